"""Drop-in replacements for the course's numpy code, named after its files.

Change one import line and the same program gives the same numbers, faster:

- ``from dnn_app_utils_v3 import *``  ->  ``from deepjit.compat.dnn_app_utils_v3 import *``
  (the week-4 helper file plus the application notebook's ``two_layer_model`` and
  ``L_layer_model``);
- the week-4 step-by-step notebook  ->  ``from deepjit.compat.step_by_step import *``;
- ``from planar_utils import ...``  ->  ``from deepjit.compat.planar_utils import ...``
  (plus the planar notebook's functions, ``nn_model`` among them);
- ``from lr_utils import load_dataset``  ->  ``from deepjit.compat.lr_utils import ...``
  (plus the logistic-regression notebook's functions, ``optimize`` and ``model``);
- the 2017-18 release: ``dnn_app_utils_v2``, ``dnn_utils_v2`` and ``testCases_v2``
  under their own names, and that release's notebook functions in ``step_by_step_2017``,
  ``lr_utils_2017`` and ``planar_utils_2017`` (thin wrappers over the modules above
  where the release behaves differently);
- the second course's ``init_utils``, ``reg_utils``, ``gc_utils`` and ``opt_utils_v1a``
  ->  ``deepjit.compat.init_utils`` ... (plus each notebook's functions and ``model``).

The step functions (``linear_forward`` ... ``update_parameters``, ``propagate``,
``forward_propagation`` ...) give the course's numbers to the bit and never copy their
inputs, whatever their memory layout: the matrix products go to BLAS as the course's do,
exponentials to numpy's ufuncs in place, and one fused Numba pass does the rest.
``L_model_backward`` computes ``dA0`` (the gradient with respect to X, which training
never reads) only when it is first read.

The training functions (``two_layer_model``, ``L_layer_model``, ``nn_model``,
``optimize``, ``model``) accept any real-valued ``Y``, as the course's do; they start
from the course's initial parameters, drawn from numpy's global legacy generator
exactly as the course draws them, and train on a compiled engine chosen by the
environment variable ``DEEPJIT_ENGINE`` ("cpu", the default; "numpy"; "cuda") or
their keyword-only ``engine=`` argument.  The submodules are imported on demand, so
importing this package needs neither h5py nor matplotlib.
"""
