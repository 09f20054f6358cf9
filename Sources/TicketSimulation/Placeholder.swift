// Placeholder: TicketSimulation is being written.
