"""The run folder: the one package that knows its files (docs/architecture.md).

Modules by concern:
    layout       file names, paths, the runs root, new folder names
    schema       run.json's schema_version and migrations
    writer       RunWriter: creating and filling a folder while training
    checkpoints  saving and loading training state
    records      metrics.jsonl and gradient norms: appending, reading, truncating
    store        RunInfo, read_run, list_runs, RunScanner (the stat-cached listing)
    results      final.json's test metrics
    resume       a stored run ready to continue (ResumeTarget)
    pairs        the links between the two runs of a comparison
    deletion     deleting folders, refusing running runs
    names        run names: the default, cleaning a typed one
    rename       renaming a run (run.json's `name`)

Importing this package loads neither TensorFlow nor Keras.
"""

from resnet_studio.core.runs.deletion import RunIsRunning, current_state, delete_run
from resnet_studio.core.runs.layout import (
    checkpoint_complete,
    checkpoint_dir,
    default_runs_root,
    exports_dir,
    has_checkpoint,
    is_run_dir,
    new_run_dir,
)
from resnet_studio.core.runs.lock import RunInUse, RunLock, RunLocked
from resnet_studio.core.runs.names import default_name
from resnet_studio.core.runs.pairs import is_compared, pair_dirs, pair_meta
from resnet_studio.core.runs.records import (
    read_gradients,
    read_gradients_or_empty,
    read_metrics,
    truncate_records,
)
from resnet_studio.core.runs.rename import rename_run
from resnet_studio.core.runs.results import read_final, read_test_metrics, write_final
from resnet_studio.core.runs.resume import (
    NotResumable,
    ResumeTarget,
    can_resume,
    read_architecture,
    resume_target,
)
from resnet_studio.core.runs.schema import RUN_SCHEMA_VERSION, migrate_run_meta
from resnet_studio.core.runs.store import (
    STATUSES,
    RunInfo,
    RunScanner,
    list_runs,
    read_run,
)

__all__ = [
    "RUN_SCHEMA_VERSION", "STATUSES", "NotResumable", "ResumeTarget", "RunInfo",
    "RunInUse", "RunIsRunning", "RunLock", "RunLocked", "RunScanner", "can_resume", "checkpoint_complete", "checkpoint_dir",
    "current_state", "default_name", "default_runs_root", "delete_run", "exports_dir", "has_checkpoint",
    "is_compared", "is_run_dir", "list_runs", "migrate_run_meta", "new_run_dir", "pair_dirs",
    "pair_meta", "read_architecture", "read_final", "read_gradients",
    "read_gradients_or_empty", "read_metrics", "read_run", "rename_run", "read_test_metrics",
    "resume_target", "truncate_records", "write_final",
]
