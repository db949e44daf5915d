"""Model registry: which models crisisdesk knows, where their weights are, how to get them."""
