// Placeholder: TicketWire is being written.
