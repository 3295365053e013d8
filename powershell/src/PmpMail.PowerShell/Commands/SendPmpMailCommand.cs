using System;
using System.Collections;
using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using System.Net.Mail;
using System.Text;
using PmpMail.Interop;

namespace PmpMail.Commands;

/// <summary>
/// Sends mail through Microsoft Graph as a mailbox, with Send-MailMessage's parameter names. Each pipeline
/// record (for example a row of Import-Csv) is one message.
/// </summary>
[Cmdlet(VerbsCommunications.Send, "PmpMail", DefaultParameterSetName = SessionSet, SupportsShouldProcess = true, ConfirmImpact = ConfirmImpact.Medium)]
[OutputType(typeof(SendResult))]
public sealed class SendPmpMailCommand : PmpMailConnectedCmdletBase
{
    private PmpMailConnection? _connection;

    #region Parameters

    /// <summary>Recipients ("addr" or "Name &lt;addr&gt;").</summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string[] To { get; set; } = Array.Empty<string>();

    /// <summary>Subject.</summary>
    [Parameter(Position = 1, ValueFromPipelineByPropertyName = true)]
    [Alias("sub")]
    [AllowEmptyString]
    public string? Subject { get; set; }

    /// <summary>Body (text, or HTML with -BodyAsHtml).</summary>
    [Parameter(Position = 2, ValueFromPipelineByPropertyName = true)]
    [AllowEmptyString]
    public string? Body { get; set; }

    /// <summary>The mailbox to send as.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? From { get; set; }

    /// <summary>Carbon copy recipients.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string[]? Cc { get; set; }

    /// <summary>Blind carbon copy recipients.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string[]? Bcc { get; set; }

    /// <summary>Reply-to addresses.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public string[]? ReplyTo { get; set; }

    /// <summary>Files to attach (paths or files); relative paths are resolved against the current location.</summary>
    [Parameter(ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("PsPath")]
    public AttachmentPath[]? Attachments { get; set; }

    /// <summary>The body is HTML.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("BAH")]
    [BooleanArgument(EmptyValue = false)]
    public SwitchParameter BodyAsHtml { get; set; }

    /// <summary>Importance: High, Normal or Low.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public MailPriority Priority { get; set; } = MailPriority.Normal;

    /// <summary>Accepted for Send-MailMessage compatibility and ignored: everything is sent as UTF-8.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [Alias("BE")]
    public object? Encoding { get; set; }

    /// <summary>Keep a copy in the mailbox's Sent Items (default $true).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    [BooleanArgument(EmptyValue = true)]
    public bool SaveToSentItems { get; set; } = true;

    /// <summary>Inline images: content id → file path, referenced in an HTML body as cid:&lt;id&gt;.</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public Hashtable? InlineAttachment { get; set; }

    /// <summary>Custom x- internet headers (name → value, at most 5).</summary>
    [Parameter(ValueFromPipelineByPropertyName = true)]
    public Hashtable? Header { get; set; }

    /// <summary>Return a result object for each message sent.</summary>
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    #endregion

    #region Method overrides

    /// <inheritdoc />
    protected override void BeginProcessing() => _connection = AcquireConnectionOrStop();

    /// <inheritdoc />
    protected override void ProcessRecord()
    {
        string target = DescribeTarget();
        PmpMailMessage? message = BuildMessage(target);
        if (message is null)
        {
            return;
        }

        if (IsStopping || !ShouldProcess(target, $"Send mail '{Subject}' as {From}"))
        {
            return;
        }

        try
        {
            PmpMailClient client = _connection!.Client;
            PmpSendResult result = RunNative(stop => client.SendMail(message, stop));
            WriteLog(result.Log);
            if (!SaveToSentItems && result.UploadSession)
            {
                WriteWarning($"-SaveToSentItems $false was not honoured for the message to {target}: its attachments (one of 3 MB or more, or too large together for one request) made it go out as a draft, and Graph keeps every sent draft in Sent Items (its draft send has no saveToSentItems). Delete it from Sent Items if it must not stay there.");
            }

            if (result.PossibleDuplicate)
            {
                WriteWarning($"The message to {target} may have arrived twice: an attempt's outcome was unknown (its answer was lost, or Graph failed without saying whether it took it) and -RetryUnknownOutcome sent it again.");
            }

            if (PassThru)
            {
                WriteObject(new SendResult
                {
                    Status = result.Status,
                    Attempts = result.Attempts,
                    RequestId = result.RequestId,
                    ClientRequestId = result.ClientRequestId,
                    DurationMs = result.DurationMs,
                    UploadSession = result.UploadSession,
                    PossibleDuplicate = result.PossibleDuplicate,
                    From = From!,
                    To = To,
                    Subject = Subject,
                    Log = result.Log,
                });
            }
        }
        catch (PmpMailException ex)
        {
            WriteLog(ex.Detail.Log);
            WriteError(ErrorMapper.ToErrorRecord(ex, "SendFailed", target));
        }
        catch (ObjectDisposedException ex)
        {
            WriteError(ErrorMapper.Build(ex, "PmpMail.ConnectionClosed", ErrorCategory.ConnectionError, target, "The connection was closed (Disconnect-PmpMail) while this pipeline was running.", "Connect again."));
        }
    }

    #endregion

    private string DescribeTarget()
    {
        var text = new StringBuilder("To: ").Append(string.Join(", ", To));
        if (Cc is { Length: > 0 })
        {
            text.Append("; Cc: ").Append(string.Join(", ", Cc));
        }

        if (Bcc is { Length: > 0 })
        {
            text.Append("; Bcc: ").Append(string.Join(", ", Bcc));
        }

        return text.ToString();
    }

    /// <summary>Builds the message; on a missing file writes an error and returns null so nothing is sent.</summary>
    private PmpMailMessage? BuildMessage(string target)
    {
        var message = new PmpMailMessage
        {
            From = From!,
            Subject = Subject,
            Body = Body,
            BodyAsHtml = BodyAsHtml.IsPresent,
            SaveToSentItems = SaveToSentItems,
            Importance = Priority switch
            {
                MailPriority.High => PmpMailImportance.High,
                MailPriority.Low => PmpMailImportance.Low,
                _ => PmpMailImportance.Normal,
            },
        };
        AddAll(message.To, To);
        AddAll(message.Cc, Cc);
        AddAll(message.Bcc, Bcc);
        AddAll(message.ReplyTo, ReplyTo);

        if (Header is not null)
        {
            foreach (DictionaryEntry entry in Header)
            {
                message.Headers.Add(new KeyValuePair<string, string>(entry.Key.ToString() ?? string.Empty, LanguagePrimitives.ConvertTo<string>(entry.Value) ?? string.Empty));
            }
        }

        foreach (AttachmentPath attachment in Attachments ?? Array.Empty<AttachmentPath>())
        {
            string? resolved = ResolveAttachment(attachment.Path, target);
            if (resolved is null)
            {
                return null;
            }

            message.Attachments.Add(PmpMailAttachment.FromFile(resolved));
        }

        if (InlineAttachment is not null)
        {
            foreach (DictionaryEntry entry in InlineAttachment)
            {
                string? resolved = ResolveAttachment(LanguagePrimitives.ConvertTo<string>(entry.Value) ?? string.Empty, target);
                if (resolved is null)
                {
                    return null;
                }

                message.Attachments.Add(PmpMailAttachment.FromFile(resolved, contentId: entry.Key.ToString()));
            }
        }

        return message;
    }

    private string? ResolveAttachment(string path, string target)
    {
        string resolved;
        try
        {
            resolved = ResolvePath(path);
        }
        catch (Exception ex) when (ex is ItemNotFoundException or ProviderNotFoundException or System.Management.Automation.DriveNotFoundException or NotSupportedException or PSArgumentException)
        {
            WriteError(ErrorMapper.Build(ex, "PmpMail.AttachmentNotFound", ErrorCategory.ObjectNotFound, path, $"The attachment '{path}' cannot be resolved to a file: {ex.Message}", "Check the path. Nothing was sent."));
            return null;
        }

        if (!File.Exists(resolved))
        {
            var ex = new FileNotFoundException($"The attachment '{resolved}' does not exist; the message to {target} was not sent.", resolved);
            WriteError(ErrorMapper.Build(ex, "PmpMail.AttachmentNotFound", ErrorCategory.ObjectNotFound, path, ex.Message, "Check the path. Nothing was sent."));
            return null;
        }

        return resolved;
    }

    private static void AddAll(IList<string> list, string[]? values)
    {
        foreach (string value in values ?? Array.Empty<string>())
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                list.Add(value);
            }
        }
    }
}
