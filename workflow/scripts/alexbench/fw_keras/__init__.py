"""keras backend of alexbench: models, LRN and the training loop, same names as the other fw_* packages."""
