"""``python -m drpkit`` runs the command-line interface."""
from drpkit.cli import main

main()
