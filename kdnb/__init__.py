__version__ = "0.0.1"

import warnings
# fastai compiles a helper with torch.jit.script at import, which torch reports as deprecated in every command
warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated', category=FutureWarning)
