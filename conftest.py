"""pytest, for the unit tests and nbval alike: path variables become absolute before any
notebook kernel starts (kernels run inside notebooks/, where relative paths mean other files)."""

from course_lib.runtime.paths import resolve_env_paths

resolve_env_paths()
