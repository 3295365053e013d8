using System.Management.Automation;

namespace PmpMail.Commands;

/// <summary>Closes the session connection made by Connect-PmpMail and forgets its cached token.</summary>
[Cmdlet(VerbsCommunications.Disconnect, "PmpMail")]
[OutputType(typeof(void))]
public sealed class DisconnectPmpMailCommand : PSCmdlet
{
    /// <inheritdoc />
    protected override void EndProcessing()
    {
        PmpMailConnection? previous = SessionConnection.Clear();
        WriteVerbose(previous is null ? "There was no session connection." : $"Disconnected {previous}.");
    }
}
