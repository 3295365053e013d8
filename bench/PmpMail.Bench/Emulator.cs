using System.Security.Cryptography.X509Certificates;

namespace PmpMail.Bench;

/// <summary>
/// One <c>pmp-graph-emulator serve --demo</c> process (<see cref="EmulatorProcess"/>) with a
/// directory file that raises the throttling limits (or, for the bulk scenario, keeps them and adds
/// mailboxes and Graph latency), stopped by closing its stdin.
/// </summary>
internal sealed class Emulator(EmulatorProcess process) : IAsyncDisposable
{
    // The built-in demo registration (contracts §6, --demo).
    public const string TenantId = "11111111-1111-1111-1111-111111111111";
    public const string ClientId = "22222222-2222-2222-2222-222222222222";
    public const string Secret = "demo-secret-value";
    public const string Mailbox = "alerts@contoso.onmicrosoft.com";
    public const string GraphScope = "https://graph.microsoft.com/.default";

    public string AuthorityHost => process.AuthorityHost;

    public string GraphRoot => process.GraphRoot;

    public string CaPem => process.CaPem;

    public X509Certificate2 Ca => process.Ca;

    public string BaseUrl => process.BaseUrl;

    public string CaPath => process.CaPath;

    /// <summary>The address of bulk mailbox <paramref name="i"/> (0-based), as <see cref="StartBulkAsync"/> declares them.</summary>
    public static string BulkMailbox(int i) => $"bulk{i + 1:D2}@contoso.onmicrosoft.com";

    public static async Task<Emulator> StartAsync(string binary) => new(await EmulatorProcess.StartAsync(new EmulatorStartOptions
    {
        Binary = binary,
        TempPrefix = "pmp-bench-",
        Demo = true,
        // --demo supplies tenant, app and mailbox; this file only lifts the throttling limits so
        // neither side is slowed down by 429s (the defaults allow 4 concurrent requests).
        ConfigFileName = "throttling.toml",
        ConfigText = """
            [throttling]
            maxConcurrent = 256
            maxRequests = 10000000
            windowSeconds = 600

            """,
    }));

    /// <summary>
    /// The bulk scenario's emulator: Graph's default throttling (4 concurrent requests per app +
    /// mailbox, 10,000 per 10 minutes) left ON, <paramref name="mailboxes"/> mailboxes
    /// (<see cref="BulkMailbox"/>) and sendMail latency <paramref name="latencyMs"/> ± <paramref name="jitterMs"/>
    /// (uniform), spent inside the throttling slot as Graph would.
    /// </summary>
    public static async Task<Emulator> StartBulkAsync(string binary, int mailboxes, int latencyMs, int jitterMs)
    {
        var config = new System.Text.StringBuilder();
        config.AppendLine("[latency]");
        config.AppendLine($"sendMail = {{ fixedMs = {latencyMs}, jitterMs = {jitterMs} }}");
        config.AppendLine();
        // Declared here because the mailboxes name it (--demo adds only what is missing).
        config.AppendLine("[[tenants]]");
        config.AppendLine($"id = \"{TenantId}\"");
        config.AppendLine("domains = [\"contoso.onmicrosoft.com\"]");
        for (var i = 0; i < mailboxes; i++)
        {
            config.AppendLine();
            config.AppendLine("[[mailboxes]]");
            config.AppendLine($"tenant = \"{TenantId}\"");
            config.AppendLine($"address = \"{BulkMailbox(i)}\"");
        }

        return new(await EmulatorProcess.StartAsync(new EmulatorStartOptions
        {
            Binary = binary,
            TempPrefix = "pmp-bench-bulk-",
            Demo = true,
            ConfigFileName = "bulk.toml",
            ConfigText = config.ToString(),
        }));
    }

    /// <summary>Per app + mailbox throttling statistics (<c>GET throttling</c>): the 429s the limits returned.</summary>
    public async Task<long> ThrottledAsync()
    {
        var rows = await process.Control.GetAsync<System.Text.Json.Nodes.JsonArray>("throttling");
        return rows.Sum(r => r?["throttled"]?.GetValue<long>() ?? 0);
    }

    /// <summary>The highest <c>peakInFlight</c> over the app + mailbox pairs.</summary>
    public async Task<long> PeakInFlightAsync()
    {
        var rows = await process.Control.GetAsync<System.Text.Json.Nodes.JsonArray>("throttling");
        return rows.Select(r => r?["peakInFlight"]?.GetValue<long>() ?? 0).DefaultIfEmpty(0).Max();
    }

    public Task<CountersRecord> CountersAsync() => process.Control.CountersAsync();

    public Task<List<RecordedMessage>> MessagesAsync() => process.Control.MessagesAsync();

    public ValueTask DisposeAsync() => process.DisposeAsync();
}
