import XCTest
@testable import TraceLensInput
@testable import TraceLensRecords
@testable import TraceLensDecode
@testable import TraceLensPlugins
@testable import TraceLensHandshake
@testable import TraceLensCorrelate
@testable import TraceLensStore
@testable import TraceLensRender
@testable import TraceLensQuery
@testable import TraceLensFollow
@testable import TraceLensDiagnose
@testable import TraceLensCommands
@testable import TraceLensBench

final class PluginTests: XCTestCase {
    /// Loads the built-ins plus one user plugin made of `manifest` (and optional extra files).
    func load(_ manifest: String, files: [String: String] = [:]) -> (PluginSet, [String]) {
        var all = files
        all["plugin.toml"] = manifest
        let user = PluginSource(name: "mine", origin: .directory("/plugins/mine"), files: all)
        let (set, problems) = CheckedPlugins.load(PluginLoader.builtInSources() + [user])
        return (set, problems.map(\.description))
    }

    let header = "[plugin]\nname = \"mine\"\ndescription = \"test\"\n"

    /// A user plugin whose `site.tsv` adds rows to the built-in `ssl` catalogue.
    func loadSiteSSLRows(_ tsv: String) -> (PluginSet, [String]) {
        load(header + """
            [[catalogue]]
            id = "ssl"
            file = "site.tsv"
            """, files: ["site.tsv": tsv])
    }

    func testInvalidTOMLNamesTheLine() {
        let (_, problems) = load(header + "[[format]\nname = 1\n")
        XCTAssertEqual(problems.count, 1)
        XCTAssertTrue(problems[0].hasPrefix("/plugins/mine/plugin.toml: line 4"), problems[0])
        XCTAssertTrue(problems[0].contains("not valid TOML"))
    }

    func testUnknownKeysSuggestTheIntendedOne() {
        let (_, problems) = load(header + """
            [[format]]
            name = "x"
            recrd = ['Thd-{thread:int} {message}']
            """)
        XCTAssertTrue(problems.contains { $0.contains("[[format]] x: unknown key 'recrd' (did you mean 'record'?)") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("needs at least one 'record' template") }, "\(problems)")
    }

    func testBadTemplateNamesFormatRuleAndColumn() {
        let (_, problems) = load(header + """
            [[format]]
            name = "x"
            record = ['Thd-{thread:integer} {message}']
            """)
        XCTAssertTrue(problems.contains { $0.contains("[[format]] x, record 1: template 'Thd-{thread:integer} {message}', column 5: unknown field kind 'integer'") }, "\(problems)")
    }

    func testFailingSampleSaysWhatWasExpected() {
        let (_, problems) = load(header + """
            [[format]]
            name = "mylog"
            record = ['{time:time(YYYY-MM-DD hh:mm:ss)} [{thread:int}] {level:word} {message}']

            [[sample]]
            format = "mylog"
            text = '2024-01-02 03:04:05 [7] ERROR disk full'
            [sample.expect]
            thread = "8"
            level = "ERROR"
            """)
        XCTAssertEqual(problems, ["/plugins/mine/plugin.toml: [[sample]] 1 (format mylog): expected thread '8', got '7'"])
    }

    func testAUserFormatWithGoodSamplesLoadsAndIsUsed() throws {
        let (set, problems) = load(header + """
            [[format]]
            name = "mylog"
            record = ['{time:time(YYYY-MM-DD hh:mm:ss)} [{thread:int}] {level:word} {message}']

            [[sample]]
            format = "mylog"
            text = '2024-01-02 03:04:05 [7] ERROR handshake failed rc=431 Error 0x03353041'
            [sample.expect]
            thread = "7"
            time = "2024-01-02T03:04:05"
            codes = ["cms:03353041"]

            [[sample]]
            format = "mylog"
            text = 'not mine'
            [sample.expect]
            unparsed = 1
            """)
        XCTAssertEqual(problems, [])
        XCTAssertEqual(set.plugins.last?.origin, .directory("/plugins/mine"))
        XCTAssertEqual(set.format(named: "mylog")?.plugin, "mine")
    }

    func testFormatsNeedSamplesAndReferencesMustResolve() {
        let (_, problems) = load(header + """
            [[format]]
            name = "lonely"
            record = ['X {message}']

            [[code]]
            find = 'rc={code:int}'
            catalogue = "nosuch"
            """)
        XCTAssertTrue(problems.contains { $0.contains("[[format]] lonely: has no [[sample]]") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("[[code]] 'rc={code:int}': names catalogue 'nosuch', which no plugin defines") }, "\(problems)")
    }

    func testPatternEntriesAreChecked() {
        let (_, problems) = load(header + """
            [[secret]]
            find = '{secret:word}'

            [[list]]
            variable = "MY_LIST"
            element = 0
            catalogue = "cipher"

            [[code]]
            find = 'RC {code:word}'
            catalogue = "ssl"
            """)
        XCTAssertTrue(problems.contains { $0.contains("[[secret]] 1: '{secret:word}' must start with literal text and have a {secret} field") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("[[list]] 1: 'element' must be the width of one code") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("[[code]] 'RC {code:word}': catalogue 'ssl' has numeric codes") }, "\(problems)")
    }

    func testCatalogueRowsAreCheckedAndUserRowsOverrideBuiltIns() throws {
        let tsv = "code\tname\ttext\texplanation\taction\tverified\trelated\tsource\n431\tMY_NAME\tRevoked (site wording).\tOur note.\tCall the PKI team.\tyes\tcms:03353041\tsite PKI runbook\n999\tX\n"
        let (set, problems) = loadSiteSSLRows(tsv)
        XCTAssertEqual(problems, ["/plugins/mine/site.tsv:3: row: has 2 fields, the header has 8"])
        let entry = try XCTUnwrap(set.catalogue("ssl")?.entry(.number(431)))
        XCTAssertEqual(entry.text, "Revoked (site wording).")
        XCTAssertTrue(entry.verified)
        XCTAssertEqual(entry.source, "site PKI runbook")
        XCTAssertNotNil(set.catalogue("ssl")?.entry(.number(434)), "rows the user did not override stay")
        XCTAssertEqual(set.catalogue("ssl")?.label, "SSL {code}: {text}", "settings not given are kept")
        XCTAssertTrue(set.plugins.last?.overrides.first?.contains("catalogue ssl: 1 rows replaced") ?? false)
    }

    /// The rule behind `[unverified]`: a built-in row marked verified names what it was checked against.
    func testEveryVerifiedBuiltInRowNamesItsSource() {
        let (set, problems) = CheckedPlugins.load(PluginLoader.builtInSources())
        XCTAssertEqual(problems.map(\.description), [])
        var missing: [String] = []
        for c in set.catalogues {
            for e in c.entries.values where e.verified && e.source.isEmpty { missing.append("\(c.id):\(e.code)") }
            for r in c.ranges where r.entry.verified && r.entry.source.isEmpty { missing.append("\(c.id):\(r.entry.code)") }
        }
        XCTAssertEqual(missing.sorted(), [], "verified rows without a source")
    }

    func testAVerifiedRowWithoutASourceIsAWarningAndShownUnverified() throws {
        let tsv = "code\ttext\tverified\tsource\n431\tRevoked (site wording).\tyes\t\n432\tChecked.\tyes\tsite runbook\n"
        let (set, problems) = loadSiteSSLRows(tsv)
        XCTAssertEqual(problems, ["/plugins/mine/site.tsv:2: code 431: warning: verified=yes needs a source (what the row was checked against); shown as unverified"])
        let unsourced = try XCTUnwrap(set.catalogue("ssl")?.entry(.number(431)))
        XCTAssertFalse(unsourced.verified)
        let sourced = try XCTUnwrap(set.catalogue("ssl")?.entry(.number(432)))
        XCTAssertTrue(sourced.verified)
        XCTAssertEqual(sourced.source, "site runbook")
        XCTAssertFalse(sourced.details.contains { $0.column == "source" }, "source is a core column, not a detail")
    }

    func testPluginFolderOnDisk() throws {
        let dir = Fixtures.tempDir() + "/site"
        try FileManager.default.createDirectory(atPath: dir + "/catalogues", withIntermediateDirectories: true)
        try (header + "[[catalogue]]\nid = \"site\"\ntitle = \"Site code\"\nradix = \"decimal\"\nfile = \"catalogues/site.tsv\"\naccept = ['site {code:int}']\n\n[[sample]]\nexplain = \"site 7\"\nreadings = [\"site:7\"]\n")
            .write(toFile: dir + "/plugin.toml", atomically: true, encoding: .utf8)
        try "code\ttext\n7\tSeven\n".write(toFile: dir + "/catalogues/site.tsv", atomically: true, encoding: .utf8)
        let (set, problems) = CheckedPlugins.loadAll(userDirectories: [dir])
        XCTAssertEqual(problems, [])
        XCTAssertEqual(Explainer(plugins: set).readings("site 7").first?.entry?.text, "Seven")
        XCTAssertThrowsError(try PluginLoader.sources(inDirectory: dir + "/missing"))
    }

    func testUserDirectoriesOrder() {
        let dirs = PluginLoader.userDirectories(explicit: ["/c"], environment: ["HOME": "/nonexistent", "TRACELENS_PLUGINS": "/a:/b"])
        XCTAssertEqual(dirs, ["/a", "/b", "/c"])
    }
}

final class DocumentedExampleTests: XCTestCase {
    /// docs/plugins.md walks through docs/examples/payroll-tls: it must load and pass its samples.
    func testTheWorkedExampleInThePluginGuideChecksClean() throws {
        let (set, problems) = CheckedPlugins.loadAll(userDirectories: [Fixtures.root + "/docs/examples/payroll-tls"])
        XCTAssertEqual(problems, [])
        let log = Fixtures.write("2024-03-01 10:07:19.123 [T7] ERROR tls: handshake failed rc=431 keystore password=s3cret\n", named: "payroll.log")
        var records: [Record] = []
        _ = try RecordStream(plugins: set).read(log, source: 0) { records.append($0) }
        XCTAssertEqual(records.first?.field(.thread), "7")
        XCTAssertFalse(records.first?.message.contains("s3cret") ?? true)
        XCTAssertEqual(records.first.map { $0.codes.map { set.catalogues[$0.catalogue].id } }, ["ssl"])
    }
}

final class CommandRunTests: XCTestCase {
    let run = ExplainRun(plugins: Fixtures.plugins)

    func testWordsTypedApartAreJoinedWhenTheyMeanOneCode() {
        XCTAssertEqual(run.queries(["key", "type", "13", "alert", "42", "431"]), ["key type 13", "alert 42", "431"])
        XCTAssertEqual(run.queries(["42", "431"]), ["42", "431"])
        XCTAssertEqual(run.queries(["GSK_V3_CIPHER_SPECS_EXPANDED=C02C", "35"]), ["GSK_V3_CIPHER_SPECS_EXPANDED=C02C", "35"])
    }

    func testExplainOutputAndStatus() {
        var request = ExplainRequest()
        request.codes = ["431", "nonsense"]
        let result = run.run(request)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.output, ["431:", "  System SSL return code 431 (0x1AF): Certificate is revoked. [unverified]"])
        XCTAssertEqual(result.warnings.count, 1)
        XCTAssertTrue(result.warnings[0].contains("'nonsense': no catalogue knows this code"))

        request.codes = ["GSK_TLS_SIG_ALG_PAIRS=06010503"]
        let list = run.run(request)
        XCTAssertEqual(list.status, 0)
        XCTAssertEqual(list.output.count, 3)
        XCTAssertTrue(list.output[2].hasPrefix("  2  0503  ecdsa_secp384r1_sha384"), list.output[2])

        request.codes = ["C02C"]
        request.json = true
        let json = run.run(request)
        XCTAssertEqual(json.output.count, 1)
        let object = try? JSONSerialization.jsonObject(with: Data(json.output[0].utf8)) as? [String: Any]
        XCTAssertEqual(((object?["readings"] as? [[String: Any]])?.first)?["name"] as? String, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")
    }

    func testPluginCheckReportsTheFolderOnly() throws {
        let clean = CheckedPlugins.check(directory: Fixtures.root + "/docs/examples/payroll-tls")
        XCTAssertEqual(clean.problems, [])
        XCTAssertEqual(clean.summary, ["payroll-tls: 1 layouts, 1 catalogues, 2 code patterns, 1 connection rules, 6 samples, all samples pass"])
        let missing = CheckedPlugins.check(directory: "/nonexistent/plugins")
        XCTAssertEqual(missing.problems.map(\.description), ["/nonexistent/plugins: no such plugin folder"])
        let empty = CheckedPlugins.check(directory: Fixtures.tempDir())
        XCTAssertTrue(empty.problems.first?.message.contains("no plugin.toml") ?? false)
    }
}
