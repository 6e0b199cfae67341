"""The ``snnsec`` command line: one module per command, wired together by :mod:`snnsec.cli.main`."""
