"""Money: prices, cost, currencies, budgets, the metrics log and its statistics."""
