import Foundation
import XCTest
@testable import TraceLensDecode
@testable import TraceLensPlugins
@testable import TraceLensRender
@testable import TraceLensDiagnose
@testable import TraceLensCommands

/// The `tls` plugin's tables are the whole IANA registries: checked against what OpenSSL and
/// Python know on this machine (both must be installed: a missing tool fails, it never skips),
/// the new catalogues load every row, and codes typed bare keep their old readings.
final class TLSTableTests: XCTestCase {
    /// Runs a program found on PATH; fails the test, saying what is missing, when it is not there.
    func run(_ program: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) -> String? {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        child.arguments = [program] + arguments
        let out = Pipe()
        child.standardOutput = out
        child.standardError = FileHandle.nullDevice
        do { try child.run() } catch {
            XCTFail("\(program) could not be started (\(error)): install \(program) to run this check", file: file, line: line)
            return nil
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        guard child.terminationStatus == 0 else {
            XCTFail("\(program) is missing or failed (exit \(child.terminationStatus)): install \(program) to run this check", file: file, line: line)
            return nil
        }
        return String(decoding: data, as: UTF8.self)
    }

    let explainer = Explainer(plugins: Fixtures.plugins)

    /// The first reading's row name: a code typed with its kind word reads one row.
    func name(_ q: String) -> String? { explainer.readings(q).first?.entry?.name }

    func refs(_ q: String, kind: String? = nil) -> [String] { explainer.readings(q, kind: kind).map(\.ref) }

    /// The data rows of one of the plugin's TSV files.
    func tsvRows(_ file: String) throws -> [[String]] {
        let text = try String(contentsOfFile: Fixtures.root + "/Plugins/tls/catalogues/" + file, encoding: .utf8)
        let lines = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        return lines.dropFirst().map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }

    func testEverySuiteOpenSSLListsDecodesToItsIANAName() throws {
        guard let out = run("openssl", ["ciphers", "-stdname", "-V", "ALL:COMPLEMENTOFALL"]) else { return }
        var checked = 0
        for line in out.split(separator: "\n") {
            // `0xC0,0x2C - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 - ECDHE-ECDSA-AES256-GCM-SHA384 TLSv1.2 ...`
            let words = line.split(separator: " ")
            guard words.count >= 3, words[0].hasPrefix("0x"), words[1] == "-" else { continue }
            let stdname = String(words[2])
            guard stdname.hasPrefix("TLS_") else { continue }  // no standard name printed
            let bytes = words[0].split(separator: ",").map { $0.dropFirst(2) }
            XCTAssertEqual(bytes.count, 2, String(line))
            let code = bytes.map { $0.uppercased() }.joined()
            XCTAssertEqual(name("cipher \(code)"), stdname, "suite \(code)")
            XCTAssertEqual(name("cipher 0x\(code)"), stdname, "suite 0x\(code)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 100, "openssl listed too few suites:\n\(out)")
    }

    func testEveryAlertPythonKnowsDecodesToItsIANAName() throws {
        guard let out = run("python3", ["-c", "import ssl\nfor a in ssl.AlertDescription: print(a.value, a.name)"]) else { return }
        // Python spells one alert the British way; IANA writes user_canceled.
        let spelling = ["user_cancelled": "user_canceled"]
        var checked = 0
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: " ")
            guard parts.count == 2, let value = Int(parts[0]) else { XCTFail("unexpected line '\(line)'"); continue }
            var iana = parts[1].replacingOccurrences(of: "ALERT_DESCRIPTION_", with: "").lowercased()
            iana = spelling[iana] ?? iana
            XCTAssertEqual(name("alert \(value)"), iana, "alert \(value)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 20, "python3 listed too few alerts:\n\(out)")
    }

    func testEveryRowOfEveryTLSCatalogueLoads() throws {
        XCTAssertEqual(Fixtures.loaded.1.filter { $0.description.contains("Plugins/tls") || $0.description.contains("tls/") }.map(\.description), [])
        let files = ["alert": "alerts.tsv", "cipher": "cipher-suites.tsv", "sigalg": "signature-schemes.tsv", "group": "groups.tsv",
                     "extension": "extensions.tsv", "handshake": "handshake-types.tsv", "contenttype": "content-types.tsv"]
        for (id, file) in files {
            let catalogue = try XCTUnwrap(Fixtures.plugins.catalogue(id), id)
            let rows = try tsvRows(file)
            XCTAssertEqual(catalogue.entries.count, rows.count, "\(id): every row of \(file) is a code")
            let names = rows.map { $0[1] }
            for row in rows {
                let value = try XCTUnwrap(catalogue.value(fromCatalogueText: row[0]), "\(id) \(row[0])")
                XCTAssertEqual(catalogue.entry(value)?.name, row[1], "\(id) \(row[0])")
                // Each row is found by its name too (`explain supported_versions`), but for the
                // registry's repeated `Reserved`.
                if names.filter({ $0 == row[1] }).count == 1 { XCTAssertEqual(catalogue.value(forName: row[1]), value, "\(id) \(row[1])") }
            }
        }
        // The registries are complete, not the handful z/OS uses.
        XCTAssertGreaterThanOrEqual(Fixtures.plugins.catalogue("cipher")?.entries.count ?? 0, 350)
        XCTAssertGreaterThanOrEqual(Fixtures.plugins.catalogue("group")?.entries.count ?? 0, 55)
        XCTAssertGreaterThanOrEqual(Fixtures.plugins.catalogue("sigalg")?.entries.count ?? 0, 45)
        XCTAssertGreaterThanOrEqual(Fixtures.plugins.catalogue("extension")?.entries.count ?? 0, 60)
    }

    func testRegistryFactsReadAsTyped() {
        // Extensions, handshake and record types need their word.
        XCTAssertEqual(name("extension 43"), "supported_versions")
        XCTAssertEqual(name("extension 0x002B"), "supported_versions")
        XCTAssertEqual(name("ext 65281"), "renegotiation_info")
        XCTAssertEqual(name("extension 0xFE0D"), "encrypted_client_hello")
        XCTAssertEqual(name("extension 23"), "extended_main_secret")
        XCTAssertEqual(refs("extended_master_secret"), ["extension:23"], "the former name still finds the row")
        XCTAssertEqual(name("handshake 1"), "client_hello")
        XCTAssertEqual(name("handshake 254"), "message_hash")
        XCTAssertEqual(name("record 22"), "handshake")
        XCTAssertEqual(refs("43", kind: "extension"), ["extension:43"])
        XCTAssertFalse(refs("43").contains { $0.hasPrefix("extension:") })
        XCTAssertFalse(refs("1").contains { $0.hasPrefix("handshake:") })
        // Groups are decimal, as GSK writes them: 0023 is 23, the wire value 0x0017.
        XCTAssertEqual(refs("0023"), ["group:0023"])
        XCTAssertEqual(name("group 0029"), "x25519")
        XCTAssertEqual(name("group 31"), "brainpoolP256r1tls13")
        XCTAssertEqual(name("group 256"), "ffdhe2048")
        XCTAssertEqual(name("4588"), "X25519MLKEM768")
        XCTAssertEqual(name("group 4587"), "SecP256r1MLKEM768")
        XCTAssertEqual(name("group 4589"), "SecP384r1MLKEM1024")
        XCTAssertEqual(name("sigalg 0807"), "ed25519")
        XCTAssertEqual(name("081C"), "ecdsa_brainpoolP512r1tls13_sha512")
        XCTAssertEqual(name("sigalg 0905"), "mldsa65")
        // A suite System SSL does not have reads with its word only; the bare forms stay GSK's.
        XCTAssertEqual(refs("35"), ["cipher:0035", "x509verify:35", "ldaprc:35", "curl:35"])
        XCTAssertEqual(refs("0035"), ["cipher:0035"])
        XCTAssertEqual(name("cipher 0023"), "TLS_KRB5_WITH_3DES_EDE_CBC_MD5")
        XCTAssertEqual(name("cipher 5600"), "TLS_FALLBACK_SCSV")
        XCTAssertEqual(name("cipher 00FF"), "TLS_EMPTY_RENEGOTIATION_INFO_SCSV")
        XCTAssertEqual(name("cipher 0xC100"), "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC")
    }

    /// Every suite with a 2-character System SSL form has it in `code2`, and the 2-character form
    /// reads that suite.
    func testTwoCharacterCipherSpecs() throws {
        let catalogue = try XCTUnwrap(Fixtures.plugins.catalogue("cipher"))
        var withCode2 = 0
        for e in catalogue.entries.values {
            let code2 = e.details.first { $0.column == "code2" }?.value
            let supported = e.details.first { $0.column == "zos_support" }?.value.hasPrefix("yes") ?? false
            if e.code.hasPrefix("00"), supported, e.code != "00FF" {
                XCTAssertEqual(code2, String(e.code.dropFirst(2)), "\(e.code) \(e.name)")
            }
            guard let code2 else { continue }
            XCTAssertEqual(refs("cipher \(code2)"), ["cipher:\(e.code)"], "the 2-character form \(code2)")
            XCTAssertTrue(refs(code2).contains("cipher:\(e.code)"), "the 2-character form \(code2), typed bare")
            withCode2 += 1
        }
        XCTAssertGreaterThanOrEqual(withCode2, 48)
    }

    func testAMalformedCodeInAFourHexCatalogueIsAPluginProblem() throws {
        let tsv = "code\tname\ttext\texplanation\taction\tverified\trelated\tbare\nZZ12\tTLS_BROKEN\tBad code.\t\t\tyes\t\t\nFFF0\tTLS_SITE_SUITE\tA private suite.\t\t\tno\t\tno\n"
        let user = PluginSource(name: "mine", origin: .directory("/plugins/mine"), files: [
            "plugin.toml": "[plugin]\nname = \"mine\"\ndescription = \"test\"\n\n[[catalogue]]\nid = \"cipher\"\nfile = \"site.tsv\"\n\n[[catalogue]]\nid = \"extension\"\nbare = \"maybe\"\n",
            "site.tsv": tsv])
        let (set, problems) = CheckedPlugins.load(PluginLoader.builtInSources() + [user])
        let texts = problems.map(\.description)
        XCTAssertTrue(texts.contains("/plugins/mine/site.tsv:2: code 'ZZ12': is not a hex code"), "\(texts)")
        XCTAssertTrue(texts.contains { $0.contains("[[catalogue]] extension: 'bare' must be true or false") }, "\(texts)")
        // The good row loads; marked bare = no, it needs the word.
        let explainer = Explainer(plugins: set)
        XCTAssertEqual(explainer.readings("cipher FFF0").first?.entry?.name, "TLS_SITE_SUITE")
        XCTAssertEqual(explainer.readings("FFF0").map(\.ref), [])
        XCTAssertNil(set.catalogue("cipher")?.entry(.number(0xFFF0))?.details.first { $0.column == "bare" }, "bare is no detail to show")
    }
}
