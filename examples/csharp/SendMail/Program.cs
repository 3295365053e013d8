// Sends one mail through Microsoft Graph with PmpMail.Interop, after checking the Mail.Send permission.
//
// Against the local emulator (no tenant needed), from the repository root:
//   cargo build -p pmp-mail -p pmp-graph-emulator
//   target/debug/pmp-graph-emulator serve --demo --state-dir /tmp/emu      # prints {"baseUrl":"https://127.0.0.1:PORT",...}
//   dotnet run --project examples/csharp/SendMail -- --emulator https://127.0.0.1:PORT --state-dir /tmp/emu
//   dotnet run --project examples/csharp/SendMail -- --emulator https://127.0.0.1:PORT --state-dir /tmp/emu --certificate
// The first run uses the demo secret, the second the demo certificate (demo-app.pfx, signed in .NET through
// the signer callback). The message then shows at https://127.0.0.1:PORT/_emulator/.
//
// Against a real tenant:
//   PMP_MAIL_SECRET=... dotnet run --project examples/csharp/SendMail -- --tenant contoso.onmicrosoft.com \
//       --client-id <app id> --from alerts@contoso.com --to ops@contoso.com
// (or --pfx path/to/app.pfx [--pfx-password-env NAME] instead of PMP_MAIL_SECRET).
using System.Security.Cryptography.X509Certificates;
using PmpMail.Interop;

var options = ParseArguments(args);
string? emulator = options.GetValueOrDefault("emulator");
string? stateDir = options.GetValueOrDefault("state-dir");
string tenant = options.GetValueOrDefault("tenant") ?? "contoso.onmicrosoft.com";
string clientId = options.GetValueOrDefault("client-id") ?? "22222222-2222-2222-2222-222222222222";
string from = options.GetValueOrDefault("from") ?? "alerts@contoso.onmicrosoft.com";
string to = options.GetValueOrDefault("to") ?? "Ops Team <ops@contoso.com>";

var config = new PmpMailConfig(tenant, clientId);
if (emulator is not null)
{
    config.AuthorityHost = config.GraphRoot = new Uri(emulator);
    config.Http = new PmpMailHttpOptions { ExtraCaCertificatesPem = File.ReadAllText(Path.Combine(stateDir ?? ".", "ca.pem")) };
}

X509Certificate2? certificate = null;
string? pfx = options.GetValueOrDefault("pfx") ?? (options.ContainsKey("certificate") && stateDir is not null ? Path.Combine(stateDir, "demo-app.pfx") : null);
if (pfx is not null)
{
    string? password = options.TryGetValue("pfx-password-env", out string? variable) ? Environment.GetEnvironmentVariable(variable) : emulator is not null ? "demo" : null;
    certificate = X509CertificateLoader.LoadPkcs12FromFile(pfx, password, X509KeyStorageFlags.EphemeralKeySet);
}
else
{
    string secret = Environment.GetEnvironmentVariable("PMP_MAIL_SECRET") ?? (emulator is not null ? "demo-secret-value" : throw new InvalidOperationException("Set PMP_MAIL_SECRET or pass --pfx."));
    config.Credential = PmpMailCredential.FromClientSecret(secret);
}

Console.WriteLine($"pmp-mail native library {PmpMailClient.NativeVersion}");
try
{
    using PmpMailClient client = certificate is null ? PmpMailClient.Create(config) : PmpMailClient.CreateWithCertificate(config, certificate);

    PmpPermissionReport report = client.TestPermissions();
    if (!report.Authenticated)
    {
        Console.Error.WriteLine($"Authentication failed: {report.Error?.Message} Remedy: {report.Error?.Remedy}");
        return 2;
    }

    Console.WriteLine($"App '{report.AppDisplayName}' ({report.AppId}) in tenant {report.TenantId}; token from {report.TokenSource}");
    foreach (PmpPermissionEntry permission in report.Permissions)
    {
        Console.WriteLine($"  {permission.Name,-16} {permission.Status,-8} {permission.NeededFor}");
    }

    var message = new PmpMailMessage
    {
        From = from,
        Subject = $"pmp-mail C# example ✓ {DateTimeOffset.Now:u}",
        Body = "<p>Hello from <b>PmpMail.Interop</b>.</p>",
        BodyAsHtml = true,
        Importance = PmpMailImportance.High,
    };
    message.To.Add(to);
    message.Headers.Add(new("x-pmp-example", "csharp"));
    message.Attachments.Add(PmpMailAttachment.FromBytes("hello.txt", "Grüße\n"u8.ToArray(), "text/plain"));

    PmpSendResult result = client.SendMail(message);
    Console.WriteLine($"Sent in {result.DurationMs} ms, {result.Attempts} attempt(s), request id {result.RequestId}");
    return 0;
}
catch (PmpMailException ex)
{
    // Typed by category: PmpMailAuthenticationException, PmpMailPermissionException, PmpMailThrottledException ...
    Console.Error.WriteLine($"{ex.GetType().Name} ({ex.Detail.StatusName}): {ex.Message}");
    Console.Error.WriteLine($"request id: {ex.Detail.RequestId}, graph code: {ex.Detail.GraphCode}, AADSTS: {ex.Detail.Aadsts}");
    return 1;
}
finally
{
    certificate?.Dispose();
}

static Dictionary<string, string> ParseArguments(string[] args)
{
    var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    for (int i = 0; i < args.Length; i++)
    {
        if (!args[i].StartsWith("--", StringComparison.Ordinal))
        {
            throw new ArgumentException($"Unexpected argument '{args[i]}'.");
        }

        string key = args[i][2..];
        bool hasValue = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal);
        result[key] = hasValue ? args[++i] : "true";
    }

    return result;
}
