// Placeholder: MeridianXML is being written.
