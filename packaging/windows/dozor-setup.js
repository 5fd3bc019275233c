// Dozor Agent MSI custom actions (JScript, run by msiexec as LocalSystem, deferred, no impersonation).
//
// Why JScript and not the bundled Python: these actions must also run where the interpreter is a
// placeholder (the CI build) and before the service first starts; Windows Script Host's JScript
// engine is part of every Windows 10/11 (and of Wine), so the same file runs in both.
//
// CustomActionData of "configure": DATADIR|CA_CERT|COLLECTOR_URL|ENROLL_SECRET. The directory and a
// Windows path cannot contain "|", a URL must not, and the secret comes last, so it may.

// No script-level variables: an MSI script host may resolve globals against the Session object.

function fileSystem() {
    return new ActiveXObject("Scripting.FileSystemObject");
}

// A YAML double-quoted scalar in pure ASCII: the file reads the same whatever the code page.
function yamlString(text) {
    var out = "\"";
    for (var i = 0; i < text.length; i++) {
        var ch = text.charAt(i);
        var code = text.charCodeAt(i);
        if (ch === "\"" || ch === "\\") {
            out += "\\" + ch;
        } else if (code < 0x20 || code > 0x7e) {
            var hex = code.toString(16);
            while (hex.length < 4) {
                hex = "0" + hex;
            }
            out += "\\u" + hex;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

function splitData(data, count) {
    var separator = "|";
    var parts = [];
    var rest = data;
    for (var i = 0; i < count - 1; i++) {
        var at = rest.indexOf(separator);
        if (at < 0) {
            throw new Error("Dozor setup: malformed CustomActionData");
        }
        parts.push(rest.substring(0, at));
        rest = rest.substring(at + 1);
    }
    parts.push(rest);
    return parts;
}

function ensureFolder(fso, path) {
    if (!fso.FolderExists(path)) {
        fso.CreateFolder(path);
    }
}

// Writes agent.yaml from COLLECTOR_URL / ENROLL_SECRET and copies CA_CERT to ca.pem. Runs only when
// at least one of them was given (the sequence condition), so an upgrade without them keeps the file.
function configure() {
    var parts = splitData(Session.Property("CustomActionData"), 4);
    var dataDir = parts[0], caCert = parts[1], collectorUrl = parts[2], secret = parts[3];
    var fso = fileSystem();
    ensureFolder(fso, dataDir.replace(/\\$/, ""));
    if (caCert !== "") {
        if (!fso.FileExists(caCert)) {
            throw new Error("Dozor setup: CA_CERT file not found: " + caCert);
        }
        fso.CopyFile(caCert, dataDir + "ca.pem", true);
    }
    if (collectorUrl === "") {
        if (secret !== "") {
            throw new Error("Dozor setup: ENROLL_SECRET needs COLLECTOR_URL");
        }
        return 1; // msiDoActionStatusSuccess: only the CA certificate was replaced
    }
    var lines = [
        "# Written by the Dozor Agent installer from its COLLECTOR_URL, ENROLL_SECRET and CA_CERT.",
        "collector_url: " + yamlString(collectorUrl)
    ];
    if (secret !== "") {
        lines.push("enrollment_secret: " + yamlString(secret));
    }
    if (caCert !== "" || fso.FileExists(dataDir + "ca.pem")) {
        lines.push("ca_file: ca.pem");
    }
    var file = fso.CreateTextFile(dataDir + "agent.yaml", true, false);
    file.Write(lines.join("\r\n") + "\r\n");
    file.Close();
    return 1; // msiDoActionStatusSuccess
}

// REMOVE_DATA=1 on uninstall: config, token, spool and logs go too.
function removeData() {
    var dataDir = Session.Property("CustomActionData").replace(/\\$/, "");
    var fso = fileSystem();
    if (fso.FolderExists(dataDir)) {
        fso.DeleteFolder(dataDir, true);
    }
    return 1; // msiDoActionStatusSuccess
}
