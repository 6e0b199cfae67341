"""Bring your own SNN: models trained elsewhere, as snnsec :class:`~snnsec.models.SpikingModel`.

- :mod:`snnsec.interop.reference`: state_dicts of the paper's reference code (Bu et al., CVPR 2023).
- :mod:`snnsec.interop.nir`: NIR graphs (Norse, snnTorch, SpikingJelly, Sinabs, Rockpool, ...),
  read and written.

Imported models can be attacked with every estimator and deployed to every backend, like models
that snnsec trained. This package sits beside :mod:`snnsec.export`: it uses models, neurons and
utils, and nothing above them.
"""
