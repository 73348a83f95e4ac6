"""The commands of ``otolane``, by group; ``app/cli.py`` holds their parser."""
