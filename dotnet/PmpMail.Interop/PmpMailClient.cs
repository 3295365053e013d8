using System;
using System.Collections.Generic;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using PmpMail.Interop.Native;

namespace PmpMail.Interop;

/// <summary>
/// A client for one app registration in one tenant. Thread-safe: many threads may send through one
/// client and share its token cache and connections. Dispose it to free the native handle.
/// </summary>
public sealed class PmpMailClient : IDisposable
{
    private readonly PmpClientHandle _handle;
    private readonly HostCallback? _callback;

    private PmpMailClient(PmpClientHandle handle, HostCallback? callback, string? tenant, string? clientId, string credentialKind, StoreLocation? certificateStore = null)
    {
        _handle = handle;
        _callback = callback;
        Tenant = tenant;
        ClientId = clientId;
        CredentialKind = credentialKind;
        SigningCertificateStoreLocation = certificateStore;
    }

    static PmpMailClient() => NativeLibraryResolver.EnsureRegistered();

    /// <summary>The tenant as configured; null when the credential names it (managed identity, workload identity from AZURE_TENANT_ID).</summary>
    public string? Tenant { get; }

    /// <summary>The app registration's client id as configured; null when the credential names it (managed identity, workload identity from AZURE_CLIENT_ID).</summary>
    public string? ClientId { get; }

    /// <summary>
    /// clientSecret, certificatePfx, certificatePem, managedIdentity, workloadIdentity, signer, clientAssertion, or for
    /// Google Workspace serviceAccountKey or serviceAccountCertificate.
    /// </summary>
    public string CredentialKind { get; }

    /// <summary>
    /// The certificate that signs client assertions, for clients made by <see cref="CreateWithCertificate"/> or
    /// <see cref="CreateWithCertificateThumbprint"/>, or with a Google service account certificate
    /// (<see cref="PmpMailCredential.FromServiceAccountCertificate"/>); null for the other credentials.
    /// A certificate found by thumbprint belongs to the client: do not dispose it; the client does.
    /// </summary>
    public X509Certificate2? SigningCertificate => Signer?.Certificate;

    /// <summary>
    /// Where <see cref="CreateWithCertificateThumbprint"/> (or <see cref="PmpMailCredential.FromServiceAccountCertificateThumbprint"/>) found the certificate: the My store of
    /// <see cref="StoreLocation.CurrentUser"/> or <see cref="StoreLocation.LocalMachine"/>. Null for every other client.
    /// </summary>
    public StoreLocation? SigningCertificateStoreLocation { get; }

    /// <summary>The signer state (tests observe its lifetime).</summary>
    internal CertificateSigner? Signer => _callback as CertificateSigner;

    /// <summary>The client-assertion callback state (tests observe its calls).</summary>
    internal AssertionCallback? Assertion => _callback as AssertionCallback;

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _handle.IsClosed;

    /// <summary>The native library's version, e.g. "0.1.0" (loads the library).</summary>
    public static unsafe string NativeVersion => NativeMethods.ReadStaticString(NativeMethods.Version());

    /// <summary>The native name of a status code, e.g. PMP_STATUS_THROTTLED.</summary>
    public static unsafe string StatusName(PmpStatus status) => NativeMethods.ReadStaticString(NativeMethods.StatusName((uint)status));

    /// <summary>
    /// Creates a client whose credential (secret, PFX or PEM file, managed or workload identity, Google service account
    /// key or certificate) is in <paramref name="config"/>.
    /// </summary>
    /// <exception cref="PmpMailException">The configuration was rejected.</exception>
    /// <exception cref="PmpMailCertificateNotFoundException">A Google service account certificate given by thumbprint is in neither store with its private key.</exception>
    public static unsafe PmpMailClient Create(PmpMailConfig config)
    {
        Guard.NotNull(config, nameof(config));
        if (config.Credential is PmpMailCredential.ServiceAccountCertificateCredential google)
        {
            // Else the signer path would make an Entra certificate client out of a Google credential.
            if (config.Provider != PmpMailProvider.GoogleWorkspace)
            {
                throw new ArgumentException("A service account certificate is a Google Workspace credential: use PmpMailConfig.ForGoogleWorkspace.", nameof(config));
            }

            return CreateWithGoogleSigner(config, google);
        }

        using var buffer = new SensitiveBufferWriter();
        DocumentWriter.WriteConfig(buffer, config, hostAuth: null);
        uint status;
        PmpClientHandle handle;
        fixed (byte* json = buffer.WrittenSpan)
        {
            status = NativeMethods.ClientNew(json, (nuint)buffer.WrittenSpan.Length, out handle);
        }

        ThrowIfFailed(status);
        return new PmpMailClient(handle, null, config.Tenant, config.ClientId, config.Credential!.Kind);
    }

    /// <summary>
    /// Creates a client that signs client assertions with <paramref name="certificate"/>'s private key in
    /// this process (the key is never exported; store and non-exportable keys work). The certificate must
    /// stay undisposed for the client's lifetime.
    /// </summary>
    /// <exception cref="PmpMailCredentialException">The certificate has no private key, or its key is not RSA (Entra ID
    /// accepts RSA-signed client assertions only).</exception>
    public static PmpMailClient CreateWithCertificate(PmpMailConfig config, X509Certificate2 certificate)
    {
        Guard.NotNull(config, nameof(config));
        Guard.NotNull(certificate, nameof(certificate));
        RefuseGoogle(config);
        return CreateWithSigner(config, certificate, ownsCertificate: false, certificateStore: null, google: false);
    }

    /// <summary>
    /// Creates a client that signs client assertions with the private key of the certificate whose thumbprint
    /// is <paramref name="thumbprint"/>, looked up in CurrentUser\My and then LocalMachine\My (see
    /// <see cref="CertificateLocator"/>). As with <see cref="CreateWithCertificate"/>, the key is used in place in
    /// this process and never exported, so non-exportable store, CNG and smart-card keys work. The client owns the
    /// certificate it found (<see cref="SigningCertificate"/>) and disposes it when it is disposed.
    /// </summary>
    /// <param name="config">Tenant, app and endpoints; its <see cref="PmpMailConfig.Credential"/> is not used.</param>
    /// <param name="thumbprint">The SHA-1 thumbprint; case, spaces and colons do not matter (<see cref="CertificateLocator.NormalizeThumbprint"/>).</param>
    /// <exception cref="PmpMailCertificateNotFoundException">Neither store holds the certificate with a private key; the message names both stores and what each held.</exception>
    /// <exception cref="PmpMailCredentialException">The certificate's key is not RSA (Entra ID accepts RSA-signed client assertions only).</exception>
    /// <exception cref="ArgumentException"><paramref name="thumbprint"/> holds no hexadecimal digit.</exception>
    /// <exception cref="PmpMailException">The configuration was rejected.</exception>
    public static PmpMailClient CreateWithCertificateThumbprint(PmpMailConfig config, string thumbprint)
    {
        Guard.NotNull(config, nameof(config));
        Guard.NotNull(thumbprint, nameof(thumbprint));
        RefuseGoogle(config);
        return CreateWithStoreCertificate(config, thumbprint, google: false);
    }

    /// <summary>Google's certificate is the credential's (FromServiceAccountCertificate), not a second argument.</summary>
    private static void RefuseGoogle(PmpMailConfig config)
    {
        if (config.Provider == PmpMailProvider.GoogleWorkspace)
        {
            throw new ArgumentException("A Google Workspace client is made with PmpMailClient.Create; give the certificate with PmpMailCredential.FromServiceAccountCertificate or FromServiceAccountCertificateThumbprint.", nameof(config));
        }
    }

    private static PmpMailClient CreateWithStoreCertificate(PmpMailConfig config, string thumbprint, bool google)
    {
        X509Certificate2 certificate = CertificateLocator.FindByThumbprint(thumbprint, out StoreLocation foundIn);
        try
        {
            return CreateWithSigner(config, certificate, ownsCertificate: true, foundIn, google);
        }
        catch
        {
            certificate.Dispose();
            throw;
        }
    }

    /// <summary>Google Workspace with a certificate: the host signer path without a certificate DER (the token's <c>kid</c> is the key id).</summary>
    private static PmpMailClient CreateWithGoogleSigner(PmpMailConfig config, PmpMailCredential.ServiceAccountCertificateCredential credential) =>
        credential.Certificate is X509Certificate2 certificate
            ? CreateWithSigner(config, certificate, ownsCertificate: false, certificateStore: null, google: true)
            : CreateWithStoreCertificate(config, credential.Thumbprint!, google: true);

    private static unsafe PmpMailClient CreateWithSigner(PmpMailConfig config, X509Certificate2 certificate, bool ownsCertificate, StoreLocation? certificateStore, bool google)
    {
        string service = google ? "Google's token endpoint accepts assertions signed with RSA (RS256)" : "Entra ID accepts client assertions signed with RSA (PS256 or RS256)";
        if (!certificate.HasPrivateKey)
        {
            throw new PmpMailCredentialException(PmpStatus.Credential, new PmpErrorDetail
            {
                Status = (uint)PmpStatus.Credential,
                StatusName = StatusName(PmpStatus.Credential),
                Category = "credential",
                Message = $"Certificate {certificate.Thumbprint} ({certificate.Subject}) has no private key.",
                Remedy = "Use the certificate from the store or PFX that holds its private key, not the public .cer file.",
            });
        }

        string? keyAlgorithm = NonRsaKeyAlgorithm(certificate);
        if (keyAlgorithm is not null)
        {
            throw new PmpMailCredentialException(PmpStatus.Credential, new PmpErrorDetail
            {
                Status = (uint)PmpStatus.Credential,
                StatusName = StatusName(PmpStatus.Credential),
                Category = "credential",
                Message = $"Certificate {certificate.Thumbprint} ({certificate.Subject}) has a key of type {keyAlgorithm}, not RSA; {service} only.",
                Remedy = google ? "Create an RSA certificate (2048-bit or more) and upload its public key to the service account." : "Entra ID client assertions need an RSA key; create an RSA certificate (2048-bit or more).",
            });
        }

        var signer = new CertificateSigner(certificate, ownsCertificate);
        GCHandle state = GCHandle.Alloc(signer);
        using var buffer = new SensitiveBufferWriter();
        try
        {
            DocumentWriter.WriteConfig(buffer, config, hostAuth: "signer");
            // Google identifies the key by the config's privateKeyId: no certificate goes to the library (NULL, 0).
            byte[]? der = google ? null : certificate.RawData;
            uint status;
            PmpClientHandle handle;
            fixed (byte* json = buffer.WrittenSpan)
            fixed (byte* derPtr = der)
            {
                status = NativeMethods.ClientNewWithSigner(
                    json, (nuint)buffer.WrittenSpan.Length, derPtr, (nuint)(der?.Length ?? 0),
                    CertificateSigner.Callback, (void*)GCHandle.ToIntPtr(state), out handle);
            }

            if (status != 0)
            {
                ThrowIfFailed(status, signer);
            }

            // From here the handle owns the GCHandle (and through it the signer) and releases it after pmp_client_free.
            handle.AttachCallbackState(state);
            return new PmpMailClient(handle, signer, config.Tenant, config.ClientId, google ? config.Credential!.Kind : "signer", certificateStore);
        }
        catch
        {
            if (state.IsAllocated)
            {
                state.Free();
            }

            throw;
        }
    }

    /// <summary>
    /// Creates a client whose client assertions <paramref name="assertionProvider"/> supplies whole: a federated token
    /// from a source the library does not read itself (a CI system's OIDC endpoint, a token broker, another cloud's
    /// workload identity). The app registration (or user-assigned identity) in <paramref name="config"/> must have a
    /// federated credential that matches the token's issuer, subject and audience.
    /// </summary>
    /// <param name="config">Tenant, app and endpoints; its <see cref="PmpMailConfig.Credential"/> is not used.</param>
    /// <param name="assertionProvider">
    /// Called for every token request (not for every send: tokens are cached), on a library thread, possibly
    /// concurrently; it may block (for example to fetch the token over HTTP). Return the JWT as it is. An exception it
    /// throws fails that call with a <see cref="PmpMailSignerException"/> whose inner exception it is.
    /// </param>
    /// <exception cref="PmpMailException">The configuration was rejected.</exception>
    public static unsafe PmpMailClient CreateWithClientAssertion(PmpMailConfig config, Func<PmpClientAssertionRequest, string> assertionProvider)
    {
        Guard.NotNull(config, nameof(config));
        Guard.NotNull(assertionProvider, nameof(assertionProvider));
        var callback = new AssertionCallback(assertionProvider);
        GCHandle state = GCHandle.Alloc(callback);
        using var buffer = new SensitiveBufferWriter();
        try
        {
            DocumentWriter.WriteConfig(buffer, config, hostAuth: "clientAssertion");
            uint status;
            PmpClientHandle handle;
            fixed (byte* json = buffer.WrittenSpan)
            {
                status = NativeMethods.ClientNewWithAssertionCallback(
                    json, (nuint)buffer.WrittenSpan.Length, AssertionCallback.Callback, (void*)GCHandle.ToIntPtr(state), out handle);
            }

            ThrowIfFailed(status, callback);
            // From here the handle owns the GCHandle and releases it after pmp_client_free.
            handle.AttachCallbackState(state);
            return new PmpMailClient(handle, callback, config.Tenant, config.ClientId, "clientAssertion");
        }
        catch
        {
            if (state.IsAllocated)
            {
                state.Free();
            }

            throw;
        }
    }

    /// <summary>
    /// The name of the certificate's key algorithm when it is not RSA (null for RSA): the signer can only sign
    /// client assertions with RSA, and Entra ID accepts nothing else.
    /// </summary>
    internal static string? NonRsaKeyAlgorithm(X509Certificate2 certificate)
    {
        string? oid = certificate.PublicKey.Oid?.Value;
        return oid switch
        {
            "1.2.840.113549.1.1.1" => null, // rsaEncryption
            "1.2.840.10045.2.1" => "ECDSA",
            "1.2.840.10040.4.1" => "DSA",
            "1.3.101.112" => "Ed25519",
            "1.3.101.113" => "Ed448",
            "1.2.840.113549.1.1.10" => "RSASSA-PSS-only",
            _ => $"{certificate.PublicKey.Oid?.FriendlyName ?? "unknown"} ({oid ?? "no OID"})",
        };
    }

    /// <summary>Gets a token (from the cache unless <paramref name="forceRefresh"/>) and reports which permissions it holds.</summary>
    /// <returns>The report; <see cref="PmpPermissionReport.Authenticated"/> is false when Entra ID rejected the credentials.</returns>
    public PmpPermissionReport TestPermissions(bool forceRefresh = false) => TestPermissions(forceRefresh, CancellationToken.None);

    /// <summary>Sends one message. Throws a <see cref="PmpMailException"/> subclass on failure.</summary>
    public PmpSendResult SendMail(PmpMailMessage message) => SendMail(message, CancellationToken.None);

    /// <summary>
    /// <see cref="TestPermissions(bool)"/> that <paramref name="cancellationToken"/> can stop while it waits (e.g. out a
    /// throttled token request's Retry-After): it then throws <see cref="PmpMailCancelledException"/>. A request in
    /// flight is never abandoned.
    /// </summary>
    public PmpPermissionReport TestPermissions(bool forceRefresh, CancellationToken cancellationToken) =>
        TestPermissions(null, forceRefresh, cancellationToken);

    /// <summary>
    /// Google Workspace: tests the domain-wide delegation for <paramref name="mailbox"/> (the user to send as; null
    /// means <see cref="PmpMailConfig.Impersonate"/>). <see cref="PmpPermissionReport.Permissions"/> has <c>gmail.send</c>
    /// (Missing, with the Admin console remedy, when the delegation is not granted) and <c>Gmail API</c>.
    /// </summary>
    public PmpPermissionReport TestPermissions(string? mailbox, bool forceRefresh = false) =>
        TestPermissions(mailbox, forceRefresh, CancellationToken.None);

    /// <summary><see cref="TestPermissions(string, bool)"/> that <paramref name="cancellationToken"/> can stop while it waits.</summary>
    public unsafe PmpPermissionReport TestPermissions(string? mailbox, bool forceRefresh, CancellationToken cancellationToken)
    {
        using var buffer = new SensitiveBufferWriter(64);
        DocumentWriter.WriteTestOptions(buffer, forceRefresh, mailbox);
        byte* report = Call(buffer, cancellationToken, &NativeMethods.TestPermissions, &NativeMethods.TestPermissionsCancellable);
        return TakeDocument(report, PmpJsonContext.Default.PmpPermissionReport) ?? throw EmptyDocument();
    }

    /// <summary>
    /// <see cref="SendMail(PmpMailMessage)"/> that <paramref name="cancellationToken"/> can stop while it waits to retry
    /// (a 429's Retry-After, a 503, a lost connection): it then throws <see cref="PmpMailCancelledException"/>, whose
    /// <see cref="PmpMailCancelledException.Outcome"/> is <c>failed</c>, or <c>unknown</c> when an earlier attempt may
    /// have been delivered. A request in flight is never abandoned; a token cancelled before the call sends nothing.
    /// </summary>
    /// <remarks>
    /// In-memory attachments (<see cref="PmpMailAttachment.FromBytes"/>) are pinned and passed to the native library as
    /// buffers (<c>pmp_send_mail_with_buffers</c>), not as base64 in the message document: they cost no managed copy.
    /// They are pinned until this call returns and must not change meanwhile.
    /// </remarks>
    public unsafe PmpSendResult SendMail(PmpMailMessage message, CancellationToken cancellationToken)
    {
        Guard.NotNull(message, nameof(message));
        using var buffer = new SensitiveBufferWriter(4096);
        DocumentWriter.WriteMessage(buffer, message);
        uint status;
        byte* result;
        // Pinned until the native call has returned; it keeps no pointer.
        using (var pinned = new PinnedBuffers(DocumentWriter.InMemory(message)))
        {
            fixed (byte* json = buffer.WrittenSpan)
            fixed (PmpBuffer* list = pinned.List)
            {
                var length = (nuint)buffer.WrittenSpan.Length;
                var count = (nuint)pinned.List.Length;
                using var cancel = CancelScope.For(cancellationToken);
                status = cancel.Handle is null
                    ? NativeMethods.SendMailWithBuffers(_handle, json, length, list, count, IntPtr.Zero, out result)
                    : NativeMethods.SendMailWithBuffersCancellable(_handle, json, length, list, count, cancel.Handle, out result);
            }
        }

        ThrowIfFailed(status, _callback);
        return TakeDocument(result, PmpJsonContext.Default.PmpSendResult) ?? throw EmptyDocument();
    }

    /// <summary>
    /// <see cref="SendMail(PmpMailMessage, CancellationToken)"/> on a dedicated thread. The task completes only after the
    /// native call has returned, so a cancellation never leaves a send running behind a completed task; a cancelled token
    /// faults the task with <see cref="PmpMailCancelledException"/> (not <see cref="OperationCanceledException"/>: check
    /// its <see cref="PmpMailCancelledException.Outcome"/>).
    /// </summary>
    public Task<PmpSendResult> SendMailAsync(PmpMailMessage message, CancellationToken cancellationToken = default)
    {
        Guard.NotNull(message, nameof(message));
        return OnDedicatedThread(() => SendMail(message, cancellationToken));
    }

    /// <summary>
    /// <see cref="TestPermissions(bool, CancellationToken)"/> on a dedicated thread. The task completes only after the
    /// native call has returned; a cancelled token faults it with <see cref="PmpMailCancelledException"/>.
    /// </summary>
    public Task<PmpPermissionReport> TestPermissionsAsync(bool forceRefresh = false, CancellationToken cancellationToken = default) =>
        OnDedicatedThread(() => TestPermissions(forceRefresh, cancellationToken));

    /// <summary><see cref="TestPermissions(string, bool, CancellationToken)"/> on a dedicated thread (Google Workspace: the user to test).</summary>
    public Task<PmpPermissionReport> TestPermissionsAsync(string? mailbox, bool forceRefresh = false, CancellationToken cancellationToken = default) =>
        OnDedicatedThread(() => TestPermissions(mailbox, forceRefresh, cancellationToken));

    /// <summary>
    /// Sends many messages at once (contracts §4b) and blocks until every one has a result: at most
    /// <see cref="PmpBatchOptions.MaxConcurrentPerMailbox"/> per sending mailbox and <see cref="PmpBatchOptions.MaxConcurrent"/>
    /// in all, in input order within a mailbox; a mailbox Graph throttles waits out its Retry-After while the others keep
    /// going. A failed message does not stop the others and is not thrown: it is its item's
    /// <see cref="PmpBatchItem.Error"/>. A message the library rejects (no From, a bad address) is a
    /// <see cref="PmpBatchItemStatus.Failed"/> item too.
    /// </summary>
    /// <param name="messages">The messages, written into one document before anything is sent (the sequence is enumerated once, on this thread).</param>
    /// <param name="options">Limits below the client's; null for the client's <see cref="PmpMailConfig.Sending"/>.</param>
    /// <param name="progress">
    /// Called on this thread, one call at a time, during the call: once before any result (with the total), after every
    /// finished message, and every 250 ms while a mailbox is throttled. Keep it quick (results are not collected while it
    /// runs) and make no call on a client inside it (it fails with <see cref="PmpMailInvalidArgumentException"/>). If it
    /// throws, the batch is cancelled (messages not yet sent are never sent), it is not called again, and once the native
    /// call has returned its exception is rethrown as it was thrown, instead of the result: the messages already sent
    /// stay sent.
    /// </param>
    /// <param name="cancellationToken">
    /// Stops the batch within about a second: messages not yet sent become <see cref="PmpBatchItemStatus.Cancelled"/>
    /// items, a request in flight runs to its answer, an incomplete upload-session draft is deleted. The result is returned
    /// all the same (no <see cref="OperationCanceledException"/>), since some messages may have been sent.
    /// </param>
    /// <returns>One item per message, in input order.</returns>
    /// <exception cref="ArgumentException">An element of <paramref name="messages"/> is null.</exception>
    /// <exception cref="PmpMailInvalidArgumentException">The options were rejected, or the batch is too large (more than 100,000 messages or 256 MiB); nothing was sent.</exception>
    public unsafe PmpBatchResult SendMailBatch(
        IEnumerable<PmpMailMessage> messages,
        PmpBatchOptions? options = null,
        Action<PmpBatchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        Guard.NotNull(messages, nameof(messages));
        using BatchDocuments documents = BatchDocuments.Write(messages, options);
        return SendBatch(documents, progress, cancellationToken);
    }

    /// <summary>
    /// <see cref="SendMailBatch"/> on a dedicated thread (<see cref="TaskCreationOptions.LongRunning"/>). The messages are
    /// written into the batch document on the calling thread first. <paramref name="progress"/> gets the reports through
    /// <see cref="IProgress{T}.Report"/> (a <see cref="Progress{T}"/> posts them to the caller's
    /// <see cref="SynchronizationContext"/>, if any). The task completes only after the native call has returned: a
    /// cancellation never leaves a batch running behind a completed task. A cancelled token makes the messages not yet
    /// sent <see cref="PmpBatchItemStatus.Cancelled"/> items, and the task still completes with the result (it is not
    /// cancelled), since some messages may have been sent.
    /// </summary>
    /// <exception cref="ArgumentException">An element of <paramref name="messages"/> is null (thrown before the task starts).</exception>
    public Task<PmpBatchResult> SendMailBatchAsync(
        IEnumerable<PmpMailMessage> messages,
        PmpBatchOptions? options = null,
        IProgress<PmpBatchProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        Guard.NotNull(messages, nameof(messages));
        BatchDocuments documents = BatchDocuments.Write(messages, options);
        try
        {
            Action<PmpBatchProgress>? report = progress is null ? null : progress.Report;
            return OnDedicatedThread(() =>
            {
                using (documents)
                {
                    return SendBatch(documents, report, cancellationToken);
                }
            });
        }
        catch
        {
            documents.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Runs a blocking call on a thread of its own, so that the task completes exactly when the native call has
    /// returned. Not cancellable as a task: a cancellation reaches the native call through the token it was given.
    /// </summary>
    private static Task<T> OnDedicatedThread<T>(Func<T> call) =>
        Task.Factory.StartNew(call, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>
    /// The frame of <c>pmp_send_batch</c>: always with a cancel handle (the token requests it, and so does a throwing
    /// progress handler), the progress sink's GCHandle for the length of the call, then the result document.
    /// </summary>
    private unsafe PmpBatchResult SendBatch(BatchDocuments documents, Action<PmpBatchProgress>? progress, CancellationToken cancellationToken)
    {
        uint status;
        byte* output;
        using (PmpCancelHandle cancel = PmpCancelHandle.Create())
        {
            // The library copies the buffers when the call starts (its threads send the messages); they stay
            // pinned until it returns.
            using var pinned = new PinnedBuffers(documents.Contents);
            BatchProgressSink? sink = progress is null ? null : new BatchProgressSink(progress, cancel);
            GCHandle sinkHandle = sink is null ? default : GCHandle.Alloc(sink);
            try
            {
                fixed (byte* messagesJson = documents.Messages.WrittenSpan)
                fixed (PmpBuffer* list = pinned.List)
                fixed (byte* optionsJson = documents.Options is null ? default : documents.Options.WrittenSpan)
                {
                    // The registration is disposed (waiting for a running callback) before the handle is freed.
                    using (cancellationToken.Register(static state => ((PmpCancelHandle)state!).Request(), cancel))
                    {
                        status = NativeMethods.SendBatchWithBuffers(
                            _handle,
                            messagesJson,
                            (nuint)documents.Messages.WrittenSpan.Length,
                            list, // NULL with 0 without in-memory attachments
                            (nuint)pinned.List.Length,
                            optionsJson, // NULL with 0 without options: the client's limits
                            (nuint)(documents.Options?.WrittenSpan.Length ?? 0),
                            sink is null ? default : BatchProgressSink.Callback,
                            sink is null ? null : (void*)GCHandle.ToIntPtr(sinkHandle),
                            cancel,
                            out output);
                    }
                }
            }
            finally
            {
                if (sinkHandle.IsAllocated)
                {
                    sinkHandle.Free();
                }
            }

            if (sink?.Failure is ExceptionDispatchInfo failure)
            {
                // The handler's exception instead of the result (the document is freed unread).
                if (status == 0)
                {
                    NativeMethods.StringFree(output);
                }

                failure.Throw();
            }
        }

        ThrowIfFailed(status, _callback);
        BatchResultDocument document = TakeDocument(output, PmpJsonContext.Default.BatchResultDocument) ?? throw EmptyDocument();
        return ToBatchResult(document);
    }

    /// <summary>The host's view of the batch document: item statuses as the enum, error documents as the exceptions SendMail throws.</summary>
    private PmpBatchResult ToBatchResult(BatchResultDocument document)
    {
        var items = new PmpBatchItem[document.Results.Count];
        for (int i = 0; i < items.Length; i++)
        {
            BatchItemDocument item = document.Results[i];
            PmpMailException? error = null;
            if (item.Error is PmpErrorDetail detail)
            {
                var code = (PmpStatus)detail.Status;
                error = PmpMailException.Create(code, detail, code == PmpStatus.Signer ? _callback?.FailureFor(detail) : null);
            }

            items[i] = new PmpBatchItem(item.Index, ItemStatus(item.Status), TimeSpan.FromMilliseconds(item.WaitedMs), item.Result, error);
        }

        return new PmpBatchResult(
            document.Total,
            document.Sent,
            document.Failed,
            document.Unknown,
            document.Cancelled,
            TimeSpan.FromMilliseconds(document.DurationMs),
            items);
    }

    // A status this version does not know is taken as the one that promises least: the message may have been sent.
    private static PmpBatchItemStatus ItemStatus(string status) => status switch
    {
        "sent" => PmpBatchItemStatus.Sent,
        "failed" => PmpBatchItemStatus.Failed,
        "cancelled" => PmpBatchItemStatus.Cancelled,
        _ => PmpBatchItemStatus.Unknown,
    };

    /// <summary>The two documents of a batch, written before the call (and, for the async call, on the caller's thread).</summary>
    private sealed class BatchDocuments : IDisposable
    {
        private BatchDocuments(SensitiveBufferWriter messages, List<ReadOnlyMemory<byte>> contents, SensitiveBufferWriter? options)
        {
            Messages = messages;
            Contents = contents;
            Options = options;
        }

        public SensitiveBufferWriter Messages { get; }

        /// <summary>The in-memory attachments' bytes, in the order of their <c>"buffer"</c> numbers.</summary>
        public List<ReadOnlyMemory<byte>> Contents { get; }

        public SensitiveBufferWriter? Options { get; }

        public static BatchDocuments Write(IEnumerable<PmpMailMessage> messages, PmpBatchOptions? options)
        {
            var messagesBuffer = new SensitiveBufferWriter(16 * 1024);
            SensitiveBufferWriter? optionsBuffer = null;
            try
            {
                List<ReadOnlyMemory<byte>> contents = DocumentWriter.WriteMessages(messagesBuffer, messages);
                if (options is not null)
                {
                    optionsBuffer = new SensitiveBufferWriter(256);
                    DocumentWriter.WriteBatchOptions(optionsBuffer, options);
                }

                return new BatchDocuments(messagesBuffer, contents, optionsBuffer);
            }
            catch
            {
                messagesBuffer.Dispose();
                optionsBuffer?.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            Messages.Dispose();
            Options?.Dispose();
        }
    }

    /// <summary>
    /// The frame of the calls that take a document and hand one back: the plain native call, or, when
    /// <paramref name="cancellationToken"/> can be cancelled, its cancellable twin with a cancel handle the token requests.
    /// Throws on failure; returns the native document for <see cref="TakeDocument"/>.
    /// </summary>
    private unsafe byte* Call(
        SensitiveBufferWriter document,
        CancellationToken cancellationToken,
        delegate*<PmpClientHandle, byte*, nuint, out byte*, uint> plain,
        delegate*<PmpClientHandle, byte*, nuint, PmpCancelHandle, out byte*, uint> cancellable)
    {
        uint status;
        byte* output;
        fixed (byte* json = document.WrittenSpan)
        {
            var length = (nuint)document.WrittenSpan.Length;
            using var cancel = CancelScope.For(cancellationToken);
            status = cancel.Handle is null
                ? plain(_handle, json, length, out output)
                : cancellable(_handle, json, length, cancel.Handle, out output);
        }

        ThrowIfFailed(status, _callback);
        return output;
    }

    /// <summary>Frees the native client (safe to call twice).</summary>
    public void Dispose() => _handle.Dispose();

    /// <summary>
    /// The one status check: on failure reads this thread's error document right away and throws the typed exception.
    /// </summary>
    private static unsafe void ThrowIfFailed(uint status, HostCallback? callback = null)
    {
        if (status == 0)
        {
            return;
        }

        PmpErrorDetail? detail = null;
        if (NativeMethods.LastError(out byte* document) == 0 && document != null)
        {
            try
            {
                detail = TakeDocument(document, PmpJsonContext.Default.PmpErrorDetail);
            }
            catch (JsonException)
            {
                // An unreadable error document must not hide the status itself.
            }
        }

        var code = (PmpStatus)status;
        // The callback's own exception for exactly the call of it this error names (HostCallback remarks).
        throw PmpMailException.Create(code, detail, code == PmpStatus.Signer ? callback?.FailureFor(detail) : null);
    }

    private static PmpMailException EmptyDocument() => new(PmpStatus.Internal, new PmpErrorDetail
    {
        Status = (uint)PmpStatus.Internal,
        StatusName = StatusName(PmpStatus.Internal),
        Category = "internal",
        Message = "The native library returned OK with an empty document.",
    });

    /// <summary>Parses a library-owned JSON string straight from native memory, then frees it with pmp_string_free.</summary>
    private static unsafe T? TakeDocument<T>(byte* document, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        try
        {
            return JsonSerializer.Deserialize(NativeMethods.NullTerminated(document), typeInfo);
        }
        finally
        {
            NativeMethods.StringFree(document);
        }
    }
}
