"""Documents the lane issues on paper: the diagnostic card with its measurement protocol and
failures sheet (``card_pdf.py``), in Kazakh and Russian side by side (catalogs in ``i18n/``)."""
