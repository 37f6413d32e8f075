"""Video in: clips decoded, the frames that matter chosen, the products they show found."""
