using System.Management.Automation;

namespace PmpMail.Commands;

/// <summary>
/// Creates a connection object to pass to -Connection. Use one per tenant or app when a script works with
/// several at once (MSPs); each keeps its own token cache. Nothing is sent until it is used.
/// </summary>
[Cmdlet(VerbsCommon.New, "PmpMailConnection", DefaultParameterSetName = ClientSecretSet)]
[OutputType(typeof(PmpMailConnection))]
public sealed class NewPmpMailConnectionCommand : PmpMailCredentialCmdletBase
{
    /// <summary>The name of a profile saved with Register-PmpMailProfile.</summary>
    [Parameter(ParameterSetName = PmpMailConnectedCmdletBase.ProfileSet, Mandatory = true)]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(ProfileNameCompleter))]
    public string? ProfileName { get; set; }

    /// <inheritdoc />
    protected override void EndProcessing()
    {
        try
        {
            CredentialSpec spec = BuildCredentialSpec() ?? ProfileStore.Load(ProfileName!).ToCredentialSpec();
            ApplyEndpoints(spec);
            WriteObject(ConnectionFactory.Create(spec, WriteVerbose));
        }
        catch (PmpMailSetupException ex)
        {
            ThrowSetupError(ex, TenantId ?? ProfileName);
        }
        catch (Interop.PmpMailException ex)
        {
            ThrowTerminatingError(ErrorMapper.ToErrorRecord(ex, "ConnectFailed", TenantId ?? ProfileName));
        }
        catch (System.DllNotFoundException ex)
        {
            ThrowTerminatingError(ErrorMapper.Build(ex, "PmpMail.NativeLibraryNotFound", ErrorCategory.ResourceUnavailable, null, ex.Message, null));
        }
    }
}
