"""Malicious and benign model files, built at test time (nothing binary is committed).

``malicious.CASES`` joins the technique modules (``malicious_*.py``); ``benign.CASES`` holds
real files made by torch, numpy, joblib and scikit-learn. ``_asm`` writes pickle opcodes by
hand. ``tests/scan/test_corpus_live.py`` (``-m slow``) proves each payload really runs when
loaded the way a victim would, so a scanner test on it can never pass vacuously.
"""
