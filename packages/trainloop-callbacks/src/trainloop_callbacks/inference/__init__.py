"""After training: predictions (`get_preds`, `predict`), TTA, interpretation, save/load, safe export."""
