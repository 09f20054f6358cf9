// The status block crm_simulate prints after executing a transition.

extension CIBModel {
    /// What crm_simulate 2.1.5 prints after the "Executing Cluster Transition:" lines: the
    /// original execution date (when the CIB has one and no date was given), a blank line, then
    /// "Revised Cluster Status:" with the node list and the full list of resources.
    ///
    /// Unlike ``renderCurrentStatus()`` there is no preamble (maintenance mode, disabled and
    /// blocked instance counts): crm_simulate prints none before the revised status.
    public func renderRevisedStatus() -> String {
        var text = StatusText()
        if givenTime == nil, let executionDate {
            text.info("Using the original execution date of: \(formatUTC(executionDate))")
        }
        text.spacer()
        renderStatusBlock(into: &text, title: "Revised Cluster Status")
        return text.output
    }
}
