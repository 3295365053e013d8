using System.Net.Http.Json;
using System.Text.Json;

namespace PmpGraphEmulator.TestSupport;

// Shapes of the emulator's control API (docs/contracts.md section 6).
public sealed record RecipientRecord(string Address, string? Name);

public sealed record HeaderRecord(string Name, string Value);

public sealed record AttachmentRecord(
    string Name,
    string ContentType,
    long Size,
    bool IsInline,
    string? ContentId,
    string ContentBase64,
    string Sha256);

public sealed record RecordedMessage(
    string Id,
    string Mailbox,
    string AppId,
    string Via,
    RecipientRecord? From,
    List<RecipientRecord> To,
    List<RecipientRecord> Cc,
    List<RecipientRecord> Bcc,
    List<RecipientRecord> ReplyTo,
    string Subject,
    string BodyContentType,
    string Body,
    string Importance,
    bool SaveToSentItems,
    List<HeaderRecord> Headers,
    List<AttachmentRecord> Attachments,
    string RequestId,
    string? ClientRequestId,
    string ReceivedAt,
    string? Provider = null);

public sealed record CountersRecord(
    long TokenRequests,
    long TokensIssued,
    long SendMailRequests,
    long MessagesAccepted,
    long Requests)
{
    /// <summary>What happened between <paramref name="before"/> and this reading.</summary>
    public CountersRecord Minus(CountersRecord before) => new(
        TokenRequests - before.TokenRequests,
        TokensIssued - before.TokensIssued,
        SendMailRequests - before.SendMailRequests,
        MessagesAccepted - before.MessagesAccepted,
        Requests - before.Requests);
}

/// <summary>Google access tokens issued per (service account, subject); subject empty for the account itself.</summary>
public sealed record GoogleTokenCountRecord(string ServiceAccount, string Subject, long Issued);

public sealed record TokenRecord(string TenantId, string AppId, string Credential, string IssuedAt, JsonElement Claims);

public sealed record RequestRecord(
    string Method,
    string Path,
    int Status,
    string? RequestId,
    string? ClientRequestId,
    string? At);

/// <summary>Client for <c>{baseUrl}/_emulator/api</c>, over the same CA-pinned TLS as everything else.</summary>
public sealed class ControlApi(HttpClient http)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public Task<List<RecordedMessage>> MessagesAsync() => GetAsync<List<RecordedMessage>>("messages");

    public Task<CountersRecord> CountersAsync() => GetAsync<CountersRecord>("counters");

    public Task<List<TokenRecord>> TokensAsync() => GetAsync<List<TokenRecord>>("tokens");

    public Task<List<RequestRecord>> RequestsAsync() => GetAsync<List<RequestRecord>>("requests");

    /// <summary><c>GET {path}</c> as any JSON shape (e.g. <c>JsonObject</c>); throws on a non-2xx answer.</summary>
    public async Task<T> GetAsync<T>(string path)
    {
        using var resp = await http.GetAsync(path).ConfigureAwait(false);
        var text = await resp.Content.ReadAsStringAsync().ConfigureAwait(false);
        if (!resp.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {path}: {(int)resp.StatusCode} {text}");
        }

        return JsonSerializer.Deserialize<T>(text, Json)
            ?? throw new InvalidOperationException($"GET {path}: null body");
    }

    /// <summary><c>PUT faults</c> with a fault plan (<c>{"seed":…,"rules":[…]}</c>).</summary>
    public async Task SetFaultsAsync(object plan)
    {
        using var resp = await http.PutAsync("faults", JsonContent.Create(plan, options: Json)).ConfigureAwait(false);
        var text = await resp.Content.ReadAsStringAsync().ConfigureAwait(false);
        if (!resp.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"PUT faults: {(int)resp.StatusCode} {text}");
        }
    }

    public async Task ClearFaultsAsync()
    {
        using var resp = await http.DeleteAsync("faults").ConfigureAwait(false);
        resp.EnsureSuccessStatusCode();
    }

    /// <summary>
    /// <c>POST federation/token</c>: a token of the external <paramref name="issuer"/> (one a federated credential in
    /// the directory names) for <paramref name="subject"/>, the content of a federated token file. A negative
    /// <paramref name="lifetimeSeconds"/> gives an expired one; <paramref name="audience"/> defaults to
    /// <c>api://AzureADTokenExchange</c>.
    /// </summary>
    public async Task<string> FederatedTokenAsync(string issuer, string subject, string? audience = null, long? lifetimeSeconds = null)
    {
        using var resp = await http.PostAsync("federation/token", JsonContent.Create(new { issuer, subject, audience, lifetimeSeconds }, options: Json)).ConfigureAwait(false);
        var text = await resp.Content.ReadAsStringAsync().ConfigureAwait(false);
        if (!resp.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"POST federation/token: {(int)resp.StatusCode} {text}");
        }

        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.GetProperty("token").GetString()
            ?? throw new InvalidOperationException("POST federation/token: no token");
    }

    /// <summary>
    /// <c>POST google/keys</c>: a new key for the declared service account <paramref name="clientEmail"/>, registered
    /// with the emulator at once; returns the JSON key file (Google's format, <c>token_uri</c> = the emulator).
    /// </summary>
    public async Task<string> GoogleServiceAccountKeyAsync(string clientEmail)
    {
        using var resp = await http.PostAsync("google/keys", JsonContent.Create(new { clientEmail }, options: Json)).ConfigureAwait(false);
        var text = await resp.Content.ReadAsStringAsync().ConfigureAwait(false);
        if (!resp.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"POST google/keys: {(int)resp.StatusCode} {text}");
        }

        return text;
    }

    public Task<List<GoogleTokenCountRecord>> GoogleTokensAsync() => GetAsync<List<GoogleTokenCountRecord>>("google/tokens");

    public async Task PostAsync(string path)
    {
        using var resp = await http.PostAsync(path, JsonContent.Create(new { })).ConfigureAwait(false);
        resp.EnsureSuccessStatusCode();
    }
}
