import Foundation

/// JSON decoding whose every error names the key: config files (`redline
/// serve`, `redline what-if`) and control requests (`limits set` included).
///
/// Foundation on Linux reports a number that its field cannot hold (-5 or
/// 1.5 for a uid, 1e20 for an Int) as "The given data was not valid JSON",
/// with no key at all. Such a number is found by asking the decoder: each
/// number in turn is replaced by a string, and the decoder's type mismatch
/// names the key and the type it reads there; the first number that its
/// type cannot hold is the one. The search is bounded (see
/// `numberThatDoesNotFit`); past the bound the error stays "not valid JSON".
public enum NamedDecoding {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Decode `type` from `data`. A number that does not fit is looked for
    /// only in documents of at most `searchBytes` (a control request, read
    /// on the endpoint's one event loop, passes a few KiB: the search parses
    /// the document again per number).
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, using decoder: JSONDecoder = JSONDecoder(),
                                            searchBytes: Int = .max) throws(Failure) -> T {
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            throw Failure(description: data.count <= searchBytes ? describe(error, decoding: type, from: data, using: decoder)
                                                                 : describe(error))
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    /// Whether `bytes` (JSON) nest arrays and objects deeper than `limit`;
    /// brackets inside strings do not count. A cheap scan, for requests read
    /// on an event loop before any parse: Foundation's decoder takes
    /// seconds over a few KiB nested hundreds deep.
    public static func nests<Bytes: Collection<UInt8>>(_ bytes: Bytes, deeperThan limit: Int) -> Bool {
        var depth = 0, inString = false, escaped = false
        for byte in bytes {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return false
    }

    /// The first key given twice in one JSON object ("operations.operators"
    /// for a nested one), or nil. Keys are compared as the decoder reads them
    /// (`"se\u0065d"` is `"seed"`); malformed JSON is left to the decoder to report.
    public static func duplicateKey<Bytes: Collection<UInt8>>(in data: Bytes) -> String? {
        duplicateKey(inBytes: Array(data))
    }

    private struct KeyScanObject { var keys: Set<String> = []; var path: String; var expectsKey = true; var lastKey = "" }

    private static func duplicateKey(inBytes bytes: [UInt8]) -> String? {
        typealias Object = KeyScanObject
        var objects: [Object?] = [] // nil: an array
        var i = 0
        func childPath() -> String {
            guard let top = objects.last else { return "" }
            guard let object = top else { return objects.compactMap { $0 }.last.map { "\($0.path)\($0.lastKey)[]." } ?? "[]." }
            return "\(object.path)\(object.lastKey)."
        }
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "{"): objects.append(Object(path: childPath()))
            case UInt8(ascii: "["): objects.append(nil)
            case UInt8(ascii: "}"), UInt8(ascii: "]"): if !objects.isEmpty { objects.removeLast() }
            case UInt8(ascii: ","): if let top = objects.last, var object = top { object.expectsKey = true; objects[objects.count - 1] = object }
            case UInt8(ascii: ":"): if let top = objects.last, var object = top { object.expectsKey = false; objects[objects.count - 1] = object }
            case UInt8(ascii: "\""):
                var text: [UInt8] = []
                i += 1
                while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                    if bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count { text.append(bytes[i]); i += 1 }
                    text.append(bytes[i])
                    i += 1
                }
                if let top = objects.last, var object = top, object.expectsKey {
                    var key = String(decoding: text, as: UTF8.self)
                    if text.contains(UInt8(ascii: "\\")),
                       let unescaped = try? JSONDecoder().decode(String.self, from: Data(([UInt8(ascii: "\"")] + text + [UInt8(ascii: "\"")]))) {
                        key = unescaped
                    }
                    if !object.keys.insert(key).inserted { return object.path + key }
                    object.lastKey = key
                    objects[objects.count - 1] = object
                }
            default: break
            }
            i += 1
        }
        return nil
    }

    /// `error` in words, naming the key; a number that does not fit is
    /// looked for in `data` (see above).
    static func describe<T: Decodable>(_ error: DecodingError, decoding type: T.Type, from data: Data,
                                       using decoder: JSONDecoder) -> String {
        if case .dataCorrupted(let context) = error, context.codingPath.isEmpty,
           let document = try? JSONDecoder().decode(JSONValue.self, from: data),
           let (path, value) = numberThatDoesNotFit(in: document, decoding: type, using: decoder) {
            return "\"\(path)\" cannot hold \(value): it takes a whole number in its range"
        }
        return describe(error)
    }

    /// A decoding error in words, naming the key (`operations.operatorUIDs.alice`, `symbols[2]`).
    public static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context, _ last: CodingKey? = nil) -> String {
            (context.codingPath + (last.map { [$0] } ?? [])).map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing key \"\(path(context, key))\""
        case .typeMismatch(let type, let context): return "\"\(path(context))\" should be \(type): \(context.debugDescription)"
        case .valueNotFound(let type, let context): return "\"\(path(context))\" is null, should be \(type)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON: \(context.underlyingError.map { "\($0)" } ?? context.debugDescription)"
                                              : "\"\(path(context))\": \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }

    private enum Step { case key(String), index(Int) }


    private static func numberThatDoesNotFit<T: Decodable>(in document: JSONValue, decoding type: T.Type,
                                                            using decoder: JSONDecoder) -> (String, String)? {
        // Bounded, so that a large request cannot make the event loop parse
        // it thousands of times: at most 4 MiB of re-parsing, 256 numbers.
        let budget = min(256, (4 << 20) / max(1, (try? JSONEncoder().encode(document).count) ?? 1))
        for (steps, value) in numbers(in: document, at: [], upTo: budget) {
            guard let probe = try? JSONEncoder().encode(replacing(document, at: steps[...], with: .string("?"))) else { return nil }
            do {
                _ = try decoder.decode(type, from: probe)
            } catch DecodingError.typeMismatch(let expected, let context) {
                // The decoder reads this number as `expected`, at this key.
                if !fits(value, expected) { return (keyPath(context.codingPath), text(value)) }
            } catch {
                // Not read as a number (a free-form value), or not reached.
            }
        }
        return nil
    }

    private static func fits(_ value: Double, _ type: Any.Type) -> Bool {
        switch ObjectIdentifier(type) {
        case ObjectIdentifier(Int.self): Int(exactly: value) != nil
        case ObjectIdentifier(Int8.self): Int8(exactly: value) != nil
        case ObjectIdentifier(Int16.self): Int16(exactly: value) != nil
        case ObjectIdentifier(Int32.self): Int32(exactly: value) != nil
        case ObjectIdentifier(Int64.self): Int64(exactly: value) != nil
        case ObjectIdentifier(UInt.self): UInt(exactly: value) != nil
        case ObjectIdentifier(UInt8.self): UInt8(exactly: value) != nil
        case ObjectIdentifier(UInt16.self): UInt16(exactly: value) != nil
        case ObjectIdentifier(UInt32.self): UInt32(exactly: value) != nil
        case ObjectIdentifier(UInt64.self): UInt64(exactly: value) != nil
        default: true // Double, Float, or a type this does not judge
        }
    }

    private static func keyPath(_ path: [any CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop { $0 == "." }.description
    }

    private static func text(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e18 ? String(Int64(value)) : "\(value)"
    }

    /// The first `limit` numbers in `value`, in document order (object keys sorted).
    private static func numbers(in value: JSONValue, at steps: [Step], upTo limit: Int) -> [([Step], Double)] {
        var found: [([Step], Double)] = []
        func walk(_ value: JSONValue, _ steps: [Step]) {
            guard found.count < limit else { return }
            switch value {
            case .number(let n): found.append((steps, n))
            case .array(let items): for (index, item) in items.enumerated() { walk(item, steps + [.index(index)]) }
            case .object(let fields): for key in fields.keys.sorted() { walk(fields[key]!, steps + [.key(key)]) }
            default: break
            }
        }
        walk(value, steps)
        return found
    }

    private static func replacing(_ value: JSONValue, at steps: ArraySlice<Step>, with new: JSONValue) -> JSONValue {
        guard let step = steps.first else { return new }
        switch (value, step) {
        case (.array(var items), .index(let index)) where items.indices.contains(index):
            items[index] = replacing(items[index], at: steps.dropFirst(), with: new)
            return .array(items)
        case (.object(var fields), .key(let key)) where fields[key] != nil:
            fields[key] = replacing(fields[key]!, at: steps.dropFirst(), with: new)
            return .object(fields)
        default:
            return value
        }
    }
}
