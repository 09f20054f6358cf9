// The unpacked CIB: the first phase of Meridian's scheduler.
import MeridianXML

#if canImport(FoundationEssentials)
    import struct FoundationEssentials.Date
#else
    import struct Foundation.Date
#endif

/// A Pacemaker CIB read into immutable values: the configuration, and the state of
/// every node and resource as Pacemaker 2.1.5 derives it from the status section.
///
/// This is the first of the scheduler's phases (unpacked model → scores →
/// placement → actions → ordered graph). It is a pure function of the document and
/// a date: ``unpack(_:now:)`` reads no clock and performs no I/O, so the same input
/// always gives the same model.
///
/// Invariants:
/// - `nodes` are in Pacemaker's order (by name, digits compared as numbers) and
///   `nodes[i].index == i`; node names are unique.
/// - `resources` is flat: `resources[i].index == i`, parents and children refer to
///   each other by index. `topLevel` lists the top-level resources in Pacemaker's
///   order (configuration order sorted by descending `priority`, orphans last).
/// - Resource ids are unique; every constraint refers to configured resources
///   (unpacking throws otherwise).
/// - `unsupportedFeatures` names everything found outside Meridian's subset; the
///   later phases refuse a model with an `affectsDecisions` feature.
public struct CIBModel: Sendable {
    /// The document's name (file path or `<string>`).
    public let source: String
    /// `validate-with` on `<cib>`, if set (`none` disables schema validation in Pacemaker).
    public let validateWith: String?
    /// `crm_feature_set` on `<cib>`, if set (older CIBs record fail counts per resource).
    public let featureSet: String?
    /// `admin_epoch`, `epoch`, `num_updates`.
    public let version: CIBVersion
    /// The partition has quorum (`have-quorum`).
    public let haveQuorum: Bool
    /// `dc-uuid`: the id of the designated controller, if set.
    public let dcID: String?
    /// `execution-date` (seconds since the epoch), recorded by the scheduler that saved the CIB.
    public let executionDate: Int?
    /// The time failures are judged against (seconds since the epoch): the `now` given
    /// to ``unpack(_:now:)``, else `executionDate`; `nil` means no clock, and then no
    /// failure ever expires.
    public let effectiveTime: Int?
    /// The earliest time (seconds since the epoch) at which a failure expires and the
    /// decisions may change, if any: the cluster should compute a new transition then.
    public let recheckBy: Int?
    /// The cluster options.
    public let properties: ClusterProperties
    /// The nodes, in Pacemaker's order.
    public let nodes: [Node]
    /// Every resource, clone instance and orphan, flat.
    public let resources: [Resource]
    /// The top-level resources, in Pacemaker's order.
    public let topLevel: [Int]
    /// The constraints.
    public let constraints: Constraints
    /// `<rsc_defaults>`'s blocks (meta and instance attributes), as configured.
    public let resourceDefaults: [AttributeSet]
    /// `<op_defaults>`'s blocks, as configured.
    public let operationDefaults: [AttributeSet]
    /// Tickets: those with a `<ticket_state>`, then those only named by constraints.
    public let tickets: [Ticket]
    /// Failed operations worth showing (Pacemaker's "failed actions"), in the order found.
    public let failedOperations: [FailedOperation]
    /// Node scores the history adds to resources, in the order Pacemaker adds them.
    public let historyLocations: [HistoryLocation]
    /// Features outside Meridian's subset.
    public let unsupportedFeatures: [UnsupportedFeature]
    /// Problems Pacemaker tolerates, with what was assumed.
    public let warnings: [CIBWarning]
    /// Resource instances counted as Pacemaker counts them (for "N of M resource
    /// instances DISABLED and K BLOCKED").
    public let instanceCounts: InstanceCounts

    /// Unpacks a CIB.
    ///
    /// - Parameters:
    ///   - document: the CIB (root element `<cib>`).
    ///   - now: the time failures are judged against (failure timeouts). `nil` uses
    ///     the CIB's `execution-date` if it has one; without either, failures never
    ///     expire. Pass the current date to decide as Pacemaker would today.
    /// - Throws: ``CIBError`` naming the element (id and line) and what to change:
    ///   missing or duplicate ids, references to resources or nodes that do not
    ///   exist, values that cannot be read, contradictory settings.
    public static func unpack(_ document: XMLDocument, now: Date?) throws(CIBError) -> CIBModel {
        let seconds = now.map { Int($0.timeIntervalSince1970.rounded(.down)) }
        var unpacker = Unpacker(document: document, now: seconds)
        return try unpacker.run()
    }

    /// The resource with unique id `id`, if any.
    public func resource(_ id: String) -> Resource? {
        resourceIndex[id].map { resources[$0] }
    }

    /// The node named `name` (case-insensitively, as Pacemaker matches names), if any.
    public func node(named name: String) -> Node? {
        nodeIndex[name.lowercased()].map { nodes[$0] }
    }

    /// The top-level ancestor of a resource (Pacemaker's `uber_parent`).
    public func topAncestor(of index: Int) -> Int {
        var current = index
        while let parent = resources[current].parent { current = parent }
        return current
    }

    /// The resource's fail count on a node, as Pacemaker's `pe_get_failcount` computes
    /// it: the sum of the node's `fail-count-*` attributes for the resource (clone
    /// instance numbers ignored for anonymous clones), 0 when `effective` and every
    /// failure is older than the resource's failure timeout.
    public func failCount(
        of index: Int, on nodeName: String, effective: Bool = true
    ) -> (
        count: Score, lastFailure: Int?
    ) {
        guard let node = node(named: nodeName), !node.state.failures.isEmpty else { return (.zero, nil) }
        let resource = resources[index]
        let name = resource.state.historyName ?? resource.id
        let base = resource.settings.isUnique ? name : cloneBaseName(name)
        var count = Score.zero
        var last = 0
        for record in node.state.failures {
            if resource.settings.isUnique {
                guard record.resource == base else { continue }
            } else {
                guard record.resource == base || isInstanceName(record.resource, of: base) else { continue }
            }
            // Feature sets before 3.0.13 record per resource, later ones per operation.
            if isLegacyFailCounts != (record.operation == nil) { continue }
            if let recordCount = record.count { count = count + recordCount }
            if let time = record.lastFailure { last = max(last, time) }
        }
        if effective, count > .zero, last > 0, resource.state.failureTimeoutSeconds > 0, let now = effectiveTime,
            now > last + resource.state.failureTimeoutSeconds
        {
            count = .zero
        }
        return (count, last > 0 && count > .zero ? last : nil)
    }

    /// CIBs older than feature set 3.0.13 record fail counts per resource only.
    var isLegacyFailCounts: Bool {
        guard let featureSet else { return true }
        return Rule.compareVersions(featureSet, "3.0.13") < 0
    }

    let resourceIndex: [String: Int]
    let nodeIndex: [String: Int]
    /// The `now` given to ``unpack(_:now:)``, if any.
    let givenTime: Int?

    init(
        source: String, validateWith: String?, featureSet: String?, version: CIBVersion, haveQuorum: Bool,
        dcID: String?, executionDate: Int?, givenTime: Int?, effectiveTime: Int?, recheckBy: Int?,
        properties: ClusterProperties, nodes: [Node],
        resources: [Resource], topLevel: [Int], constraints: Constraints, resourceDefaults: [AttributeSet],
        operationDefaults: [AttributeSet], tickets: [Ticket],
        failedOperations: [FailedOperation], historyLocations: [HistoryLocation],
        unsupportedFeatures: [UnsupportedFeature], warnings: [CIBWarning], instanceCounts: InstanceCounts
    ) {
        self.source = source
        self.validateWith = validateWith
        self.featureSet = featureSet
        self.version = version
        self.haveQuorum = haveQuorum
        self.dcID = dcID
        self.executionDate = executionDate
        self.givenTime = givenTime
        self.effectiveTime = effectiveTime
        self.recheckBy = recheckBy
        self.properties = properties
        self.nodes = nodes
        self.resources = resources
        self.topLevel = topLevel
        self.constraints = constraints
        self.resourceDefaults = resourceDefaults
        self.operationDefaults = operationDefaults
        self.tickets = tickets
        self.failedOperations = failedOperations
        self.historyLocations = historyLocations
        self.unsupportedFeatures = unsupportedFeatures
        self.warnings = warnings
        self.instanceCounts = instanceCounts
        var resourceIndex: [String: Int] = [:]
        for resource in resources where resourceIndex[resource.id] == nil {
            resourceIndex[resource.id] = resource.index
        }
        self.resourceIndex = resourceIndex
        var nodeIndex: [String: Int] = [:]
        for node in nodes where nodeIndex[node.name.lowercased()] == nil {
            nodeIndex[node.name.lowercased()] = node.index
        }
        self.nodeIndex = nodeIndex
    }
}

/// A resource id without a trailing clone instance number (`rsc:3` → `rsc`), as
/// Pacemaker's `clone_strip` computes it.
func cloneBaseName(_ id: String) -> String {
    // Digits and ':' are ASCII, so the UTF-8 bytes tell (no byte of another
    // character can be taken for them).
    let bytes = id.utf8
    guard bytes.count > 1 else { return id }
    let last = bytes.index(before: bytes.endIndex)
    var index = last
    while index > bytes.startIndex {
        let byte = bytes[index]
        if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
            index = bytes.index(before: index)
            continue
        }
        if byte == UInt8(ascii: ":") {
            // A trailing ':' stays part of the name.
            if index == last { return id }
            return String(decoding: bytes[..<index], as: UTF8.self)
        }
        return id
    }
    return id
}

/// `name` is `base:N` for some number N.
func isInstanceName(_ name: String, of base: String) -> Bool {
    guard name.hasPrefix(base + ":") else { return false }
    let suffix = name.dropFirst(base.count + 1)
    return !suffix.isEmpty && suffix.allSatisfy { $0.isASCII && $0.isNumber }
}

/// The CIB's version counters.
public struct CIBVersion: Sendable, Hashable, CustomStringConvertible {
    /// `admin_epoch`.
    public var adminEpoch: Int
    /// `epoch`.
    public var epoch: Int
    /// `num_updates`.
    public var updates: Int

    /// Creates a version.
    public init(adminEpoch: Int, epoch: Int, updates: Int) {
        self.adminEpoch = adminEpoch
        self.epoch = epoch
        self.updates = updates
    }

    /// `admin_epoch.epoch.num_updates`.
    public var description: String { "\(adminEpoch).\(epoch).\(updates)" }
}

/// A failed operation Pacemaker lists among "failed resource actions".
public struct FailedOperation: Sendable, Hashable {
    /// The node it failed on.
    public var node: String
    /// The resource's id.
    public var resource: String
    /// The recorded operation.
    public var operation: OperationRecord

    /// Creates an entry.
    public init(node: String, resource: String, operation: OperationRecord) {
        self.node = node
        self.resource = resource
        self.operation = operation
    }
}

/// Resource instances as Pacemaker counts them: every primitive (orphans only while
/// active), how many are disabled by `target-role` and how many are blocked.
public struct InstanceCounts: Sendable, Hashable {
    /// Instances counted.
    public var total: Int
    /// Instances whose `target-role` stops them (or keeps a promotable one unpromoted).
    public var disabled: Int
    /// Instances blocked after a failure.
    public var blocked: Int

    /// Creates counts.
    public init(total: Int, disabled: Int, blocked: Int) {
        self.total = total
        self.disabled = disabled
        self.blocked = blocked
    }
}

extension CIBModel {
    /// Parses CIB XML text as Pacemaker does (blank text dropped), reporting a
    /// document that is not well-formed as a ``CIBError`` with its line and column.
    public static func document(string: String, sourceName: String = "<string>") throws(CIBError) -> XMLDocument {
        do {
            return try XMLDocument(string: string, sourceName: sourceName, options: [.removeBlankText])
        } catch {
            throw CIBError(malformed: error, source: sourceName)
        }
    }

    /// Reads and parses a CIB file; see ``document(string:sourceName:)``.
    public static func document(contentsOfFile path: String) throws(CIBError) -> XMLDocument {
        do {
            return try XMLDocument(contentsOfFile: path, options: [.removeBlankText])
        } catch {
            throw CIBError(malformed: error, source: path)
        }
    }
}

extension CIBError {
    /// A parse or read failure of the XML layer, as a CIB error.
    init(malformed error: XMLError, source: String) {
        let first = error.errors.first
        self.init(
            code: .malformedDocument, message: first?.message ?? error.summary, element: nil, elementID: nil,
            source: source, line: first?.line, hint: error.hint, diagnostics: error.diagnostics)
    }
}
