"""The commands of ``otolane``, by group; ``app/cli.py`` holds their parser and
turns every refusal into one line for the user."""
