import Foundation
import Redline

#if canImport(Glibc)
import Glibc
#endif

/// A blocking client of the control socket: one request, one response line.
/// What `redline ctl` and the tests use; any program that writes a JSON line
/// to the socket and reads one back is as good.
public struct ControlClient: Sendable {
    public let path: String
    public let timeoutSeconds: Double

    /// `timeoutSeconds` is clamped to 0.01...3600 (0 would mean "forever" to the kernel).
    public init(path: String, timeoutSeconds: Double = 10) {
        self.path = path
        self.timeoutSeconds = timeoutSeconds.isFinite ? min(max(timeoutSeconds, 0.01), 3600) : 10
    }

    public func send(_ request: ControlRequest) throws(RedlineError) -> ControlResponse {
        let line: Data
        do { line = try ControlCodec.encoder.encode(request) + Data("\n".utf8) } catch {
            throw .invalidInput("the request does not encode: \(error)")
        }
        let reply = try exchange(line)
        do { return try ControlCodec.decoder.decode(ControlResponse.self, from: reply) } catch {
            throw .runtime("the endpoint's answer is not a response: \(String(decoding: reply.prefix(200), as: UTF8.self))")
        }
    }

    /// Write `bytes` as they are, and read one line back (empty if the
    /// endpoint closed without one). For tests of what a bad client sends.
    public func exchange(_ bytes: Data) throws(RedlineError) -> Data {
        let fd = try connectSocket()
        defer { close(fd) }
        var written = 0
        let count = bytes.count
        while written < count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + written, count - written, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                // The endpoint refused and closed mid-request (an oversized one): read its reason.
                if errno == EPIPE || errno == ECONNRESET { break }
                throw .system(errno: errno, operation: "send to \(path)")
            }
            written += n
        }
        var reply = Data()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while !reply.contains(UInt8(ascii: "\n")) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { break }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw .runtime("no answer from \(path) within \(timeoutSeconds) s")
                }
                throw .system(errno: errno, operation: "recv from \(path)")
            }
            if n == 0 { break }
            reply.append(contentsOf: chunk[0..<n])
        }
        if let end = reply.firstIndex(of: UInt8(ascii: "\n")) { reply = reply[..<end] }
        return reply
    }

    /// A connected socket, with the timeout on reads and writes.
    public func connectSocket() throws(RedlineError) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .system(errno: errno, operation: "socket") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw .invalidInput("socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        var tv = timeval(tv_sec: Int(timeoutSeconds), tv_usec: Int((timeoutSeconds - timeoutSeconds.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 {
            let error = errno
            close(fd)
            throw .system(errno: error, operation: "connect to the control socket \(path)")
        }
        return fd
    }
}
