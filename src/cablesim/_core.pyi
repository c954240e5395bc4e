# The compiled module (src/bindings) for type checkers: its names are typed as Any until the bindings carry
# signatures a stub generator can read; cablesim's Python code gives the public API its types.
from typing import Any

def __getattr__(name: str) -> Any: ...
