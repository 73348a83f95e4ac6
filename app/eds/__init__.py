"""Electronic digital signature (ЭЦП) with NCA RK keys: containers, GOST and RSA signatures,
certificate checks, signature login and signing (R3.1, G3). See docs/eds.md."""
