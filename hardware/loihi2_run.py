"""Run an exported NetX file on a Loihi 2 board (needs Intel's lava-loihi; untested here).

    python hardware/loihi2_run.py m.net inputs.npy [--out scores.npy]

``m.net`` comes from ``snnsec export --format netx``; ``inputs.npy`` holds input steps
``[N, T, C, H, W]`` in [0, 1] (for direct encoding: the image repeated T times). The script
quantises them with the file's own metadata, streams all N samples through one runtime with
``Loihi2HwCfg`` and writes the readout scores ``[N, classes]`` (argmax = predicted class).

This is the run configuration ``snnsec deploy --backend loihi2`` uses, as a standalone script
for board hosts where only the exported file is copied over.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("net", help="NetX file written by `snnsec export --format netx`")
    p.add_argument("inputs", help="input steps [N, T, C, H, W] in [0, 1] (.npy)")
    p.add_argument("--out", default="scores.npy", help="where to write the readout scores")
    args = p.parse_args(argv)

    from snnsec._lava_compat import install

    install()
    from lava.magma.core.run_configs import Loihi2HwCfg
    from lava.utils.loihi import is_installed

    if not is_installed():
        sys.stderr.write("loihi2_run: Intel's lava-loihi is not installed; nothing can run on a board\n")
        return 1
    from snnsec.backends.lava.network import netx_network
    from snnsec.backends.lava.runner import stream
    from snnsec.export.netx_hdf5 import read_netx_meta
    from snnsec.export.quantize import quantize_messages

    meta = read_netx_meta(args.net)
    steps = np.load(args.inputs, allow_pickle=False)
    # the package's own quantisation, with its range checks (NaN or out-of-range inputs refused)
    messages = quantize_messages(steps, meta["input_spiking"], np.asarray(meta["input_offset"]),
                                 meta["input_scale"], len(meta["input_shape"]), meta.get("encoder", "the"))
    net = netx_network(args.net, meta["T"], meta["input_message_bits"])
    result = stream(net, messages, run_cfg=Loihi2HwCfg())
    np.save(args.out, result.readout)
    print(f"{len(result.readout)} samples; predictions written to {args.out} (argmax over the last axis)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
