// Resource roles, in Pacemaker's order.

/// The role of a resource instance, ordered as Pacemaker orders them
/// (`unknown < stopped < started < unpromoted < promoted`).
///
/// Pacemaker compares roles numerically in many rules ("a role above unpromoted"),
/// so the order is part of the meaning.
public enum Role: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    /// Not known (history not read yet, or a probe is needed).
    case unknown = 0
    /// Not running.
    case stopped
    /// Running (a primitive that is not in a promotable clone).
    case started
    /// Running in the unpromoted role of a promotable clone (legacy name: Slave).
    case unpromoted
    /// Running in the promoted role of a promotable clone (legacy name: Master).
    case promoted

    /// Reads a role name as Pacemaker does (`text2role`): `Stopped`, `Started`,
    /// `Unpromoted` or legacy `Slave`, `Promoted` or legacy `Master`, `Unknown`, in
    /// any case; `nil` for anything else.
    public init?(pacemaker text: String) {
        switch text.lowercased() {
        case "stopped": self = .stopped
        case "started": self = .started
        case "unpromoted", "slave": self = .unpromoted
        case "promoted", "master": self = .promoted
        case "unknown": self = .unknown
        default: return nil
        }
    }

    /// The name crm_simulate 2.1.5 prints (`Stopped`, `Started`, `Unpromoted`, `Promoted`, `Unknown`).
    public var description: String {
        switch self {
        case .unknown: return "Unknown"
        case .stopped: return "Stopped"
        case .started: return "Started"
        case .unpromoted: return "Unpromoted"
        case .promoted: return "Promoted"
        }
    }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rawValue < rhs.rawValue }
}
