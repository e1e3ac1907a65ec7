"""Order lifecycle: states (transition table) and the OrderManager."""
