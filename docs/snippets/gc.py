import gc

gc.freeze()  # what start-up made lives as long as the process: leave it out of collections
gc.set_threshold(50_000, 20, 10)  # collect young objects less often, so fewer get old
