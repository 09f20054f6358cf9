// Placeholder: MeridianLogging is being written.
