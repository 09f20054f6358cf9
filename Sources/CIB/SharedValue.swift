// A value shared by the copies of a struct, for read-mostly model types.

/// An immutable value in a box, so that copying the struct holding it costs one
/// reference count instead of one per field. ``Resource`` and ``Node`` keep their
/// stored properties in one: the scheduler reads them out of the model's arrays in
/// its inner loops.
///
/// Equal and hashed by the value, so a struct holding only a box keeps value semantics
/// (and its synthesized `Hashable`).
@usableFromInline
final class SharedValue<Value: Sendable & Hashable>: Sendable, Hashable {
    @usableFromInline let value: Value

    init(_ value: Value) { self.value = value }

    @usableFromInline
    static func == (lhs: SharedValue, rhs: SharedValue) -> Bool {
        lhs === rhs || lhs.value == rhs.value
    }

    @usableFromInline
    func hash(into hasher: inout Hasher) { value.hash(into: &hasher) }
}
