// Cluster-wide options (crm_config) with Pacemaker 2.1.5's defaults.

/// What the cluster does when it loses quorum.
public enum NoQuorumPolicy: String, Sendable, Hashable {
    /// Stop every resource in the partition.
    case stop
    /// Keep running resources, start nothing new.
    case freeze
    /// Carry on as if quorate.
    case ignore
    /// Demote promoted instances, stop everything else.
    case demote
    /// Fence every node in the partition.
    case suicide
}

/// The cluster options the scheduler reads, from `<crm_config>`'s
/// `cluster_property_set` blocks (the block `cib-bootstrap-options` is applied first,
/// then the others by descending score; the first value of a name wins).
///
/// Invariant: every property holds a valid value. A configured value that
/// Pacemaker's validator would reject is replaced by the default, as Pacemaker
/// does, and reported as a ``CIBWarning``.
public struct ClusterProperties: Sendable, Hashable {
    /// Every configured name and value, as applied (before validation).
    public var configured: [String: String]

    /// `stonith-enabled` (default true): nodes may be fenced as part of recovery.
    public var stonithEnabled: Bool
    /// `stonith-action` (default `reboot`; `poweroff` is read as `off`).
    public var stonithAction: String
    /// `no-quorum-policy` as configured (default `stop`).
    public var noQuorumPolicy: NoQuorumPolicy
    /// The policy in force: `suicide` becomes `stop` when fencing is disabled, or
    /// when the cluster has never had quorum and `no-quorum-panic` is not set.
    public var effectiveNoQuorumPolicy: NoQuorumPolicy
    /// `symmetric-cluster` (default true): resources may run anywhere by default.
    public var symmetricCluster: Bool
    /// `stop-orphan-resources` (default true).
    public var stopOrphanResources: Bool
    /// `stop-orphan-actions` (default true).
    public var stopOrphanActions: Bool
    /// `start-failure-is-fatal` (default true).
    public var startFailureIsFatal: Bool
    /// `maintenance-mode` (default false).
    public var maintenanceMode: Bool
    /// `stop-all-resources` (default false).
    public var stopAllResources: Bool
    /// `startup-fencing` (default true; only read when fencing is enabled).
    public var startupFencing: Bool
    /// `enable-startup-probes` (default true).
    public var enableStartupProbes: Bool
    /// `concurrent-fencing` (default false in 2.1.5).
    public var concurrentFencing: Bool
    /// `priority-fencing-delay` in milliseconds (default 0).
    public var priorityFencingDelayMilliseconds: Int
    /// `stonith-timeout` in milliseconds (default 60 s).
    public var stonithTimeoutMilliseconds: Int
    /// `cluster-delay` in milliseconds (default 60 s).
    public var clusterDelayMilliseconds: Int
    /// `batch-limit` (default 0: no limit).
    public var batchLimit: Int
    /// `migration-limit` (default -1: no limit).
    public var migrationLimit: Int
    /// `placement-strategy` (default `default`; anything else is unsupported).
    public var placementStrategy: String
    /// `shutdown-lock` (default false; true is unsupported).
    public var shutdownLock: Bool
    /// `node-health-strategy` (default `none`; anything else is unsupported).
    public var nodeHealthStrategy: String
    /// `have-watchdog` (default false): SBD self-fencing counts as a fencing device.
    public var haveWatchdog: Bool
    /// `remove-after-stop` (default false, deprecated).
    public var removeAfterStop: Bool
    /// `cluster-name`, if set.
    public var clusterName: String?

    /// The defaults, as Pacemaker 2.1.5 has them.
    public static let defaults = ClusterProperties(configured: [:])

    init(configured: [String: String]) {
        self.configured = configured
        stonithEnabled = true
        stonithAction = "reboot"
        noQuorumPolicy = .stop
        effectiveNoQuorumPolicy = .stop
        symmetricCluster = true
        stopOrphanResources = true
        stopOrphanActions = true
        startFailureIsFatal = true
        maintenanceMode = false
        stopAllResources = false
        startupFencing = true
        enableStartupProbes = true
        concurrentFencing = false
        priorityFencingDelayMilliseconds = 0
        stonithTimeoutMilliseconds = 60_000
        clusterDelayMilliseconds = 60_000
        batchLimit = 0
        migrationLimit = -1
        placementStrategy = "default"
        shutdownLock = false
        nodeHealthStrategy = "none"
        haveWatchdog = false
        removeAfterStop = false
        clusterName = nil
    }

    /// Reads the options from applied name/value pairs, replacing invalid values by
    /// their defaults (each replacement becomes a warning).
    static func read(
        _ values: [String: String], haveQuorum: Bool, noQuorumPanic: Bool, warnings: inout [CIBWarning]
    ) -> ClusterProperties {
        var properties = ClusterProperties(configured: values)
        func boolean(_ name: String, _ defaultValue: Bool) -> Bool {
            guard let text = values[name] else { return defaultValue }
            guard let value = pacemakerBoolean(text) else {
                warnings.append(
                    CIBWarning(
                        message: "cluster option \(name)=\"\(text)\" is not a boolean; using the default "
                            + "\(defaultValue)", element: "nvpair"))
                return defaultValue
            }
            return value
        }
        func milliseconds(_ name: String, _ defaultValue: Int) -> Int {
            guard let text = values[name] else { return defaultValue }
            guard let value = pacemakerIntervalMilliseconds(text) else {
                warnings.append(
                    CIBWarning(
                        message: "cluster option \(name)=\"\(text)\" is not a time; using the default "
                            + "\(defaultValue) ms", element: "nvpair"))
                return defaultValue
            }
            return value
        }
        func integer(_ name: String, _ defaultValue: Int) -> Int {
            guard let text = values[name] else { return defaultValue }
            if let score = Score(strict: text) { return score.value }
            warnings.append(
                CIBWarning(
                    message: "cluster option \(name)=\"\(text)\" is not a number; using the default \(defaultValue)",
                    element: "nvpair"))
            return defaultValue
        }
        func choice(_ name: String, _ allowed: [String], _ defaultValue: String) -> String {
            guard let text = values[name] else { return defaultValue }
            guard let match = allowed.first(where: { $0.lowercased() == text.lowercased() }) else {
                warnings.append(
                    CIBWarning(
                        message: "cluster option \(name)=\"\(text)\" is not one of \(allowed.joined(separator: ", "))"
                            + "; using the default \(defaultValue)", element: "nvpair"))
                return defaultValue
            }
            return match
        }

        properties.stonithEnabled = boolean("stonith-enabled", true)
        properties.stonithAction = choice("stonith-action", ["reboot", "off", "poweroff"], "reboot")
        if properties.stonithAction == "poweroff" { properties.stonithAction = "off" }
        let policy = choice("no-quorum-policy", ["stop", "freeze", "ignore", "demote", "suicide"], "stop")
        properties.noQuorumPolicy = NoQuorumPolicy(rawValue: policy) ?? .stop
        properties.effectiveNoQuorumPolicy = properties.noQuorumPolicy
        if properties.noQuorumPolicy == .suicide {
            if !properties.stonithEnabled {
                warnings.append(
                    CIBWarning(
                        message: "no-quorum-policy=suicide needs fencing, which is disabled; using stop instead",
                        element: "nvpair"))
                properties.effectiveNoQuorumPolicy = .stop
            } else if !(noQuorumPanic || haveQuorum) {
                properties.effectiveNoQuorumPolicy = .stop
            }
        }
        properties.symmetricCluster = boolean("symmetric-cluster", true)
        properties.stopOrphanResources = boolean("stop-orphan-resources", true)
        properties.stopOrphanActions = boolean("stop-orphan-actions", true)
        properties.startFailureIsFatal = boolean("start-failure-is-fatal", true)
        properties.maintenanceMode = boolean("maintenance-mode", false)
        properties.stopAllResources = boolean("stop-all-resources", false)
        properties.startupFencing = properties.stonithEnabled ? boolean("startup-fencing", true) : false
        properties.enableStartupProbes = boolean("enable-startup-probes", true)
        properties.concurrentFencing = boolean("concurrent-fencing", false)
        properties.priorityFencingDelayMilliseconds = milliseconds("priority-fencing-delay", 0)
        properties.stonithTimeoutMilliseconds = milliseconds("stonith-timeout", 60_000)
        properties.clusterDelayMilliseconds = milliseconds("cluster-delay", 60_000)
        properties.batchLimit = integer("batch-limit", 0)
        properties.migrationLimit = integer("migration-limit", -1)
        properties.placementStrategy = choice(
            "placement-strategy", ["default", "utilization", "minimal", "balanced"], "default")
        properties.shutdownLock = boolean("shutdown-lock", false)
        properties.nodeHealthStrategy = choice(
            "node-health-strategy", ["none", "migrate-on-red", "only-green", "progressive", "custom"], "none")
        properties.haveWatchdog = boolean("have-watchdog", false)
        properties.removeAfterStop = boolean("remove-after-stop", false)
        properties.clusterName = values["cluster-name"]
        return properties
    }
}
