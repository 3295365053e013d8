using System;
using PmpMail.Interop.Native;

namespace PmpMail.Interop;

/// <summary>Where a managed identity's token comes from (contracts §2, <c>auth.source</c>).</summary>
public enum PmpManagedIdentitySource
{
    /// <summary>As the Azure SDKs detect it: IDENTITY_ENDPOINT + IDENTITY_HEADER → App Service; IDENTITY_ENDPOINT + IMDS_ENDPOINT → Azure Arc; otherwise IMDS.</summary>
    Auto,
    /// <summary>App Service, Functions and Azure Automation (IDENTITY_ENDPOINT + IDENTITY_HEADER).</summary>
    AppService,
    /// <summary>The Instance Metadata Service of an Azure VM or scale set.</summary>
    Imds,
    /// <summary>The agent of an Azure Arc-enabled server.</summary>
    Arc,
}

/// <summary>
/// Which managed identity: the resource's system-assigned one, or a user-assigned one by client id, object
/// (principal) id or ARM resource id. Named as in Azure.Identity's <c>ManagedIdentityId</c>.
/// </summary>
public sealed class PmpManagedIdentityId
{
    private PmpManagedIdentityId(string? field, string? value)
    {
        Field = field;
        Value = value;
    }

    /// <summary>The resource's system-assigned identity.</summary>
    public static PmpManagedIdentityId SystemAssigned { get; } = new(null, null);

    /// <summary>A user-assigned identity by its client (application) id.</summary>
    public static PmpManagedIdentityId FromClientId(string clientId) =>
        new("clientId", Guard.NotEmpty(clientId, nameof(clientId), "The managed identity's client id is empty."));

    /// <summary>A user-assigned identity by its object (principal) id.</summary>
    public static PmpManagedIdentityId FromObjectId(string objectId) =>
        new("objectId", Guard.NotEmpty(objectId, nameof(objectId), "The managed identity's object id is empty."));

    /// <summary>A user-assigned identity by its ARM resource id (<c>/subscriptions/…/userAssignedIdentities/…</c>).</summary>
    public static PmpManagedIdentityId FromResourceId(string resourceId) =>
        new("resourceId", Guard.NotEmpty(resourceId, nameof(resourceId), "The managed identity's resource id is empty."));

    /// <summary>True for the system-assigned identity.</summary>
    public bool IsSystemAssigned => Field is null;

    /// <summary>The config field that names it (clientId, objectId, resourceId); null when system-assigned.</summary>
    internal string? Field { get; }

    /// <summary>The id; null when system-assigned.</summary>
    internal string? Value { get; }

    /// <inheritdoc />
    public override string ToString() => Field is null ? "system-assigned" : $"user-assigned ({Field} {Value})";
}

/// <summary>
/// Overrides of the managed-identity endpoints, each defaulting to what the platform sets (IDENTITY_ENDPOINT,
/// IDENTITY_HEADER, IMDS_ENDPOINT, AZURE_POD_IDENTITY_AUTHORITY_HOST, the IMDS address). For tests and emulators;
/// every URL must be local (loopback or 169.254.169.254).
/// </summary>
public sealed class PmpManagedIdentityEndpoints
{
    /// <summary>IMDS base URL (default http://169.254.169.254).</summary>
    public Uri? ImdsBaseUrl { get; set; }

    /// <summary>The App Service or Arc token endpoint (default IDENTITY_ENDPOINT).</summary>
    public Uri? IdentityEndpoint { get; set; }

    /// <summary>The App Service secret sent as X-IDENTITY-HEADER (default IDENTITY_HEADER).</summary>
    public string? IdentityHeader { get; set; }

    /// <summary>The Arc agent's base URL; its presence selects Arc (default IMDS_ENDPOINT).</summary>
    public Uri? ImdsEndpoint { get; set; }

    /// <summary>Tests only: the directory Arc key files must be in (default: the agent's own key directory).</summary>
    public string? ArcKeyDirectory { get; set; }
}

/// <summary>What a client assertion from <see cref="PmpMailClient.CreateWithClientAssertion"/>'s provider is for.</summary>
public sealed class PmpClientAssertionRequest
{
    internal PmpClientAssertionRequest(string clientId, string tokenUrl)
    {
        ClientId = clientId;
        TokenUrl = tokenUrl;
    }

    /// <summary>The client id the token is requested for: the federated credential's app or user-assigned identity.</summary>
    public string ClientId { get; }

    /// <summary>The token endpoint: the audience of a self-signed assertion (a federated token's audience is the one its federated credential names).</summary>
    public string TokenUrl { get; }
}
