"""`python -m gigagan.cli` (and `torchrun ... -m gigagan.cli`): the `gigagan` command."""

from gigagan.cli.application import main

if __name__ == "__main__":
    main()
