"""nvm.pmemobj on the ferrite engine: the same objects as ferrite.pmemobj
(docs/python.md says what differs from the original library)."""
from ferrite.pmemobj import *  # noqa: F401,F403
from ferrite.pmemobj import __all__  # noqa: F401
