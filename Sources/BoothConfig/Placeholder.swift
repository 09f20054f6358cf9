// Placeholder: BoothConfig is being written.
