"""Siamese contrastive pretraining and linear probing on the stylized shards."""
