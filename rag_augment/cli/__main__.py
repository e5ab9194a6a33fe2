import sys

from rag_augment.cli import main

sys.exit(main())
