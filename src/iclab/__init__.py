"""iclab: a laboratory for the theory of in-context learning by attention models.

Subpackages (imports flow one way: theory, tasks <- estimators, solvable, models <- train <- experiments <- sweep, cli):

- ``iclab.theory``      closed-form learning curves of the papers (pure numpy, vectorised)
- ``iclab.tasks``       prompt distributions
- ``iclab.estimators``  training-free in-context predictors
- ``iclab.solvable``    the reduced linear-attention model of Lu et al.
- ``iclab.models``      trainable attention models (Equinox)
- ``iclab.train``       jit-compiled, seed-vmapped training loops
- ``iclab.experiments`` one module per paper figure
- ``iclab.sweep``       grids, results store, executors
"""

__version__ = "0.1.0"
