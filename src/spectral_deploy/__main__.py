"""``python -m spectral_deploy`` runs the CLI."""

from spectral_deploy.cli.main import main

main()
