# Shared helpers for the PmpMail Pester tests. Dot-source it in BeforeAll.
# Imports the BUILT module (dist/PmpMail at the repository root, or $env:PMP_MAIL_MODULE_PATH) and starts
# the pmp-graph-emulator from target/debug ($env:CARGO_TARGET_DIR honoured; or $env:PMP_MAIL_EMULATOR) with a
# directory file written here.

$ErrorActionPreference = 'Stop'

$script:RepoRoot = (Resolve-Path (Join-Path $PSScriptRoot '..' '..')).Path
$script:ModulePath = if ($env:PMP_MAIL_MODULE_PATH) { $env:PMP_MAIL_MODULE_PATH } else { Join-Path $RepoRoot 'dist' 'PmpMail' }
$script:TargetDir = if ($env:CARGO_TARGET_DIR) { $env:CARGO_TARGET_DIR } else { Join-Path $RepoRoot 'target' }
$script:EmulatorExe = if ($env:PMP_MAIL_EMULATOR) { $env:PMP_MAIL_EMULATOR } else { Join-Path $TargetDir 'debug' ($IsWindows ? 'pmp-graph-emulator.exe' : 'pmp-graph-emulator') }

Import-Module (Join-Path $ModulePath 'PmpMail.psd1') -Force

# Fixed identities of the test directory.
$script:TenantId = '11111111-1111-1111-1111-111111111111'
$script:TenantDomain = 'contoso.onmicrosoft.com'
$script:AppFull = '22222222-2222-2222-2222-222222222222'       # Mail.Send + Mail.ReadWrite, secret + certificate
$script:AppSendOnly = '33333333-3333-3333-3333-333333333333'   # Mail.Send only (Mail.ReadWrite requested, not consented)
$script:AppNoRoles = '44444444-4444-4444-4444-444444444444'    # no roles
$script:AppExpired = '55555555-5555-5555-5555-555555555555'    # expired secret only
$script:OtherApp = '66666666-6666-6666-6666-666666666666'      # only named in an access policy
$script:GoodSecret = 'good-secret-Ä€-value'
$script:ExpiredSecret = 'expired-secret-value'
$script:Mailbox = 'alerts@contoso.onmicrosoft.com'
$script:RestrictedMailbox = 'restricted@contoso.onmicrosoft.com'
$script:MissingMailbox = 'ghost@contoso.onmicrosoft.com'

function New-TestCertificate {
    <# A self-signed RSA certificate with its private key, made with .NET's CertificateRequest. #>
    param([string] $Subject = 'CN=pmp-mail test')
    $rsa = [System.Security.Cryptography.RSA]::Create(2048)
    $request = [System.Security.Cryptography.X509Certificates.CertificateRequest]::new(
        $Subject, $rsa, [System.Security.Cryptography.HashAlgorithmName]::SHA256,
        [System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
    $now = [DateTimeOffset]::UtcNow
    $request.CreateSelfSigned($now.AddDays(-1), $now.AddDays(30))
}

function Get-TestDirectory {
    <# The emulator directory covering the test cases. Certificates are registered as PEM. #>
    param([string[]] $CertificatePem = @())
    @{
        tokenLifetimeSeconds = 3600
        tenants              = @(
            @{ id = $TenantId; domains = @($TenantDomain); cloud = 'global' }
        )
        apps                 = @(
            @{
                tenant = $TenantId; clientId = $AppFull; displayName = 'Patch notifications — Überwachung'
                roles = @('Mail.Send', 'Mail.ReadWrite')
                secrets = @(@{ value = $GoodSecret; expires = '2099-01-01T00:00:00Z' })
                certificates = @($CertificatePem | ForEach-Object { @{ pem = $_ } })
            }
            @{
                tenant = $TenantId; clientId = $AppSendOnly; displayName = 'Send only'
                roles = @('Mail.Send'); unconsentedRoles = @('Mail.ReadWrite')
                secrets = @(@{ value = $GoodSecret; expires = '2099-01-01T00:00:00Z' })
            }
            @{
                tenant = $TenantId; clientId = $AppNoRoles; displayName = 'No roles'
                roles = @()
                secrets = @(@{ value = $GoodSecret; expires = '2099-01-01T00:00:00Z' })
            }
            @{
                tenant = $TenantId; clientId = $AppExpired; displayName = 'Expired secret'
                roles = @('Mail.Send')
                secrets = @(@{ value = $ExpiredSecret; expires = '2020-01-01T00:00:00Z' })
            }
        )
        mailboxes            = @(
            @{ tenant = $TenantId; address = $Mailbox; displayName = 'Alerts' }
            @{ tenant = $TenantId; address = $RestrictedMailbox; accessPolicyAllowedApps = @($OtherApp) }
            @{ tenant = $TenantId; address = $MissingMailbox; exists = $false }
        )
    }
}

function Start-TestEmulator {
    <# Starts the emulator on a free loopback port; returns baseUrl, caPath, controlUrl and the process. #>
    param([Parameter(Mandatory)] [hashtable] $Directory)
    if (-not (Test-Path -LiteralPath $EmulatorExe)) {
        throw "Emulator not found at $EmulatorExe; run: cargo build -p pmp-graph-emulator"
    }
    $stateDir = Join-Path ([System.IO.Path]::GetTempPath()) ("pmp-mail-pester-" + [guid]::NewGuid().ToString('n'))
    New-Item -ItemType Directory -Path $stateDir | Out-Null
    $configPath = Join-Path $stateDir 'directory.json'
    $Directory | ConvertTo-Json -Depth 10 | Set-Content -LiteralPath $configPath -Encoding utf8NoBOM

    $psi = [System.Diagnostics.ProcessStartInfo]::new($EmulatorExe)
    foreach ($a in 'serve', '--config', $configPath, '--state-dir', $stateDir, '--listen', '127.0.0.1:0', '--exit-on-stdin-eof') { $psi.ArgumentList.Add($a) }
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.UseShellExecute = $false
    $process = [System.Diagnostics.Process]::Start($psi)
    # Drain stderr in the background (no PowerShell callbacks on other threads).
    $null = $process.StandardError.BaseStream.CopyToAsync([System.IO.Stream]::Null)
    $lineTask = $process.StandardOutput.ReadLineAsync()
    if (-not $lineTask.Wait(30000) -or -not $lineTask.Result) {
        if (-not $process.HasExited) { $process.Kill() }
        throw "The emulator did not start (exit code: $(if ($process.HasExited) { $process.ExitCode }))."
    }
    $null = $process.StandardOutput.BaseStream.CopyToAsync([System.IO.Stream]::Null)
    $info = $lineTask.Result | ConvertFrom-Json
    [pscustomobject]@{
        BaseUrl    = $info.baseUrl
        CaPath     = $info.caPath
        ControlUrl = $info.controlUrl
        StateDir   = $stateDir
        Process    = $process
    }
}

function Stop-TestEmulator {
    param($Emulator)
    if (-not $Emulator) { return }
    $p = $Emulator.Process
    try { $p.StandardInput.Close() } catch { }
    if (-not $p.WaitForExit(5000)) { $p.Kill() }
    Remove-Item -LiteralPath $Emulator.StateDir -Recurse -Force -ErrorAction SilentlyContinue
}

function Invoke-Emulator {
    <# Calls the emulator's control API (loopback only, its own test CA). #>
    param([string] $Path, [string] $Method = 'GET', $Body)
    $params = @{ Uri = "$($script:Emulator.ControlUrl)/$Path"; Method = $Method; SkipCertificateCheck = $true }
    if ($Body) { $params.Body = ($Body | ConvertTo-Json -Depth 10); $params.ContentType = 'application/json' }
    Invoke-RestMethod @params
}

function Get-EmulatorCounters { Invoke-Emulator 'counters' }

function Get-EmulatorMessages { @(Invoke-Emulator 'messages') }

function Get-EndpointParameters {
    <# Splat for every cmdlet that should talk to the emulator. #>
    @{ AuthorityHost = $script:Emulator.BaseUrl; GraphRoot = $script:Emulator.BaseUrl; TrustedCaPath = $script:Emulator.CaPath }
}

function Get-SecretParameters {
    param([string] $ClientId = $AppFull, [string] $Secret = $GoodSecret, [string] $Tenant = $TenantId)
    $p = Get-EndpointParameters
    $p.TenantId = $Tenant
    $p.ClientId = $ClientId
    $p.ClientSecret = ConvertTo-SecureString $Secret -AsPlainText -Force
    $p
}

function Get-Sha256Hex {
    param([byte[]] $Bytes)
    [Convert]::ToHexString([System.Security.Cryptography.SHA256]::HashData($Bytes)).ToLowerInvariant()
}
