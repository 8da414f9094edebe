"""``python -m spectral_deploy`` runs the CLI."""

from spectral_deploy.cli.launch import main

main()
