"""Model tools: hooks, model-size helpers, body/head splitters for transfer learning, the model summary."""
