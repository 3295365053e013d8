<#
.SYNOPSIS
    A headless Chromium driven over WebDriver (chromedriver's HTTP protocol, no client library),
    for the inbox browser tests and the README screenshot. Nothing here downloads a browser.

  Find-PmpBrowser / Install-PmpBrowser   the system Chromium/Chrome/Edge and its driver; on
                                         Debian/Ubuntu as root, apt-get installs them
  Start-PmpBrowser / Stop-PmpBrowser     chromedriver + one headless session that trusts exactly
                                         the emulator's server key, downloads into a folder
  Invoke-PmpWebDriver                    one WebDriver command; the helpers below wrap the common ones
  Get-PmpServerKeyHash                   the emulator's server key (SPKI SHA-256), checked against its CA
  New-PmpSamplePng                       a small bar-chart PNG made here (for inline images)
#>

Set-StrictMode -Version Latest

function Find-PmpBrowser {
    <# The browser and driver on PATH, or $null: Debian's chromium + chromedriver, Chrome + chromedriver, Edge + msedgedriver. #>
    $pairs = @(
        @('chromium', 'chromedriver'), @('chromium-browser', 'chromedriver'),
        @('google-chrome', 'chromedriver'), @('chrome', 'chromedriver'), @('msedge', 'msedgedriver'))
    if ($IsMacOS) {
        $pairs = @(, @('/Applications/Google Chrome.app/Contents/MacOS/Google Chrome', 'chromedriver')) + $pairs
    }
    if ($IsWindows) {
        $pairs = @(
            @("$env:ProgramFiles\Google\Chrome\Application\chrome.exe", 'chromedriver'),
            @("${env:ProgramFiles(x86)}\Microsoft\Edge\Application\msedge.exe", 'msedgedriver')) + $pairs
    }
    foreach ($pair in $pairs) {
        $browser = Get-Command $pair[0] -CommandType Application -ErrorAction Ignore | Select-Object -First 1
        $driver = Get-Command $pair[1] -CommandType Application -ErrorAction Ignore | Select-Object -First 1
        if ($browser -and $driver) { return [pscustomobject]@{ Browser = $browser.Source; Driver = $driver.Source } }
    }
    $null
}

function Install-PmpBrowser {
    <#
    .SYNOPSIS
        Returns Find-PmpBrowser's answer; when there is none on Debian/Ubuntu as root, first installs
        Debian's chromium and chromium-driver with apt-get. Elsewhere returns $null (the caller
        reports the suite n/a with the reason).
    #>
    $found = Find-PmpBrowser
    if ($found) { return $found }
    if (-not $IsLinux -or -not (Get-Command apt-get -CommandType Application -ErrorAction Ignore) -or (& id -u) -ne '0') {
        return $null
    }
    Write-Host 'Installing chromium and chromium-driver (the inbox browser tests need them)' -ForegroundColor Yellow
    $packages = @('install', '-y', '-qq', '--no-install-recommends', 'chromium', 'chromium-driver')
    $env:DEBIAN_FRONTEND = 'noninteractive'
    & apt-get @packages *> $null
    if ($LASTEXITCODE -ne 0) {
        & apt-get update -qq *> $null
        & apt-get @packages
        if ($LASTEXITCODE -ne 0) { throw "apt-get install chromium chromium-driver failed (exit code $LASTEXITCODE)" }
    }
    $found = Find-PmpBrowser
    if (-not $found) { throw 'chromium and chromium-driver were installed but are not on PATH' }
    $found
}

function Get-PmpServerKeyHash {
    <#
    .SYNOPSIS
        The base64 SHA-256 of the emulator's server certificate's public key (SPKI), for Chromium's
        --ignore-certificate-errors-spki-list: the browser then trusts that one key, not every
        certificate. The certificate is checked against the emulator's CA first.
    #>
    param([Parameter(Mandatory)] $Emulator)
    $uri = [Uri]$Emulator.BaseUrl
    $tcp = [System.Net.Sockets.TcpClient]::new($uri.Host, $uri.Port)
    try {
        $callback = [System.Net.Security.RemoteCertificateValidationCallback] {
            param($s, $certificate, $chain, $errors)
            $script:PmpCapturedCertificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new($certificate)
            $true
        }
        $ssl = [System.Net.Security.SslStream]::new($tcp.GetStream(), $false, $callback)
        try { $ssl.AuthenticateAsClient('localhost') } finally { $ssl.Dispose() }
        $captured = $script:PmpCapturedCertificate
        $chain = [System.Security.Cryptography.X509Certificates.X509Chain]::new()
        $chain.ChainPolicy.TrustMode = [System.Security.Cryptography.X509Certificates.X509ChainTrustMode]::CustomRootTrust
        $chain.ChainPolicy.RevocationMode = [System.Security.Cryptography.X509Certificates.X509RevocationMode]::NoCheck
        $null = $chain.ChainPolicy.CustomTrustStore.Add([System.Security.Cryptography.X509Certificates.X509Certificate2]::CreateFromPem((Get-Content -LiteralPath $Emulator.CaPath -Raw)))
        if (-not $chain.Build($captured)) { throw "the emulator's server certificate does not chain to its CA ($($Emulator.CaPath))" }
        [Convert]::ToBase64String([System.Security.Cryptography.SHA256]::HashData($captured.PublicKey.ExportSubjectPublicKeyInfo()))
    }
    finally { $tcp.Dispose() }
}

function Get-FreePort {
    $l = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
    $l.Start()
    try { $l.LocalEndpoint.Port } finally { $l.Stop() }
}

function Invoke-PmpWebDriver {
    <# One WebDriver command on the session (or on the driver with -NoSession); returns `value`, throws WebDriver errors with their message. #>
    param(
        [Parameter(Mandatory, Position = 0)] $Session,
        [Parameter(Mandatory, Position = 1)] [string] $Method,
        [Parameter(Position = 2)] [string] $Path = '',
        [Parameter(Position = 3)] $Body,
        [switch] $NoSession
    )
    $url = if ($NoSession) { "$($Session.DriverUrl)$Path" } else { "$($Session.DriverUrl)/session/$($Session.Id)$Path" }
    $arguments = @{ Method = $Method; Uri = $url; NoProxy = $true; SkipHttpErrorCheck = $true; StatusCodeVariable = 'status'; TimeoutSec = 120 }
    if ($Method -eq 'POST') {
        $arguments.Body = [System.Text.Encoding]::UTF8.GetBytes(((($null -eq $Body) ? @{} : $Body) | ConvertTo-Json -Depth 10 -Compress))
        $arguments.ContentType = 'application/json; charset=utf-8'
    }
    $answer = Invoke-RestMethod @arguments
    if ($status -ge 400) {
        $v = $answer.value
        throw "WebDriver $Method $Path`: $status $($v.error): $($v.message -split "`n" | Select-Object -First 1)"
    }
    $answer.value
}

function Start-PmpBrowser {
    <#
    .SYNOPSIS
        Starts chromedriver and a headless browser session; returns the session (Id, DriverUrl,
        Process, DownloadDir, ProfileDir). The browser trusts only the key hashes given (the
        emulator's) on top of the system's roots, and saves downloads in -DownloadDir.
    #>
    param(
        [Parameter(Mandatory)] $Found,
        [Parameter(Mandatory)] [string] $DownloadDir,
        [string[]] $TrustedKeyHash = @(),
        [int] $Width = 1280,
        [int] $Height = 800
    )
    $port = Get-FreePort
    $psi = [System.Diagnostics.ProcessStartInfo]::new($Found.Driver)
    $psi.ArgumentList.Add("--port=$port")
    $psi.UseShellExecute = $false
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $process = [System.Diagnostics.Process]::Start($psi)
    $null = $process.StandardOutput.BaseStream.CopyToAsync([System.IO.Stream]::Null)
    $null = $process.StandardError.BaseStream.CopyToAsync([System.IO.Stream]::Null)
    $session = [pscustomobject]@{ Id = $null; DriverUrl = "http://127.0.0.1:$port"; Process = $process; DownloadDir = $DownloadDir; ProfileDir = $null }
    try {
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while ($true) {
            try { $ready = Invoke-PmpWebDriver $session GET '/status' -NoSession; if ($ready.ready) { break } } catch { Write-Verbose "chromedriver not up yet: $_" }
            if ($process.HasExited) { throw "chromedriver exited with code $($process.ExitCode)" }
            if ([DateTime]::UtcNow -gt $deadline) { throw 'chromedriver did not answer within 30 s' }
            Start-Sleep -Milliseconds 200
        }
        New-Item -ItemType Directory -Force -Path $DownloadDir | Out-Null
        $session.ProfileDir = Join-Path ([System.IO.Path]::GetTempPath()) "pmp-browser-$([guid]::NewGuid().ToString('n'))"
        $arguments = @('--headless=new', '--disable-gpu', '--no-first-run', '--no-default-browser-check',
            '--disable-dev-shm-usage', '--disable-extensions', '--hide-scrollbars', '--lang=en-US',
            "--window-size=$Width,$Height", "--user-data-dir=$($session.ProfileDir)")
        # Chromium refuses to start as root with its own process sandbox (CI runs as root). This is
        # the browser's OS sandbox; the iframe sandbox and CSP under test do not depend on it.
        if ($IsLinux -and (& id -u) -eq '0') { $arguments += '--no-sandbox' }
        if ($TrustedKeyHash) { $arguments += "--ignore-certificate-errors-spki-list=$($TrustedKeyHash -join ',')" }
        $options = @{ args = $arguments; prefs = @{
                'download.default_directory' = $DownloadDir; 'download.prompt_for_download' = $false
                'download.directory_upgrade' = $true; 'safebrowsing.enabled' = $false
            }
        }
        if ($Found.Browser) { $options.binary = $Found.Browser }
        $optionsKey = if ($Found.Driver -match 'msedgedriver') { 'ms:edgeOptions' } else { 'goog:chromeOptions' }
        $created = Invoke-PmpWebDriver $session POST '/session' @{ capabilities = @{ alwaysMatch = @{ $optionsKey = $options } } } -NoSession
        $session.Id = $created.sessionId
        # Headless Chromium ignores the download prefs unless told over DevTools (chromedriver's
        # CDP passthrough); without this, clicking a download link saves nothing.
        $null = Invoke-PmpWebDriver $session POST '/goog/cdp/execute' @{
            cmd = 'Browser.setDownloadBehavior'; params = @{ behavior = 'allow'; downloadPath = $DownloadDir; eventsEnabled = $false }
        }
        $session
    }
    catch {
        Stop-PmpBrowser $session
        throw
    }
}

function Stop-PmpBrowser {
    <# Ends the session, chromedriver and the browser profile. Safe with $null or twice. #>
    param([Parameter(Position = 0)] $Session)
    if (-not $Session) { return }
    if ($Session.Id) { try { $null = Invoke-PmpWebDriver $Session DELETE '' } catch { Write-Verbose "session end: $_" } }
    $Session.Id = $null
    if ($Session.Process -and -not $Session.Process.HasExited) { $Session.Process.Kill($true); $null = $Session.Process.WaitForExit(5000) }
    if ($Session.ProfileDir) { Remove-Item -LiteralPath $Session.ProfileDir -Recurse -Force -ErrorAction Ignore }
}

function Open-PmpPage {
    param([Parameter(Mandatory, Position = 0)] $Session, [Parameter(Mandatory, Position = 1)] [string] $Url)
    $null = Invoke-PmpWebDriver $Session POST '/url' @{ url = $Url }
}

function Invoke-PmpScript {
    <# Runs JavaScript in the current frame (`return ...` gives the result); -Arguments are `arguments[i]`. #>
    param([Parameter(Mandatory, Position = 0)] $Session, [Parameter(Mandatory, Position = 1)] [string] $Script, [object[]] $Arguments = @())
    Invoke-PmpWebDriver $Session POST '/execute/sync' @{ script = $Script; args = $Arguments }
}

# The W3C WebDriver element reference key.
$script:ElementKey = 'element-6066-11e4-a52e-4f735466cecf'

function Find-PmpElement {
    <# The first element matching a CSS selector in the current frame, as a WebDriver element reference. #>
    param([Parameter(Mandatory, Position = 0)] $Session, [Parameter(Mandatory, Position = 1)] [string] $Css)
    $found = Invoke-PmpWebDriver $Session POST '/element' @{ using = 'css selector'; value = $Css }
    $id = $found.$script:ElementKey
    [pscustomobject]@{ Id = $id; Reference = @{ $script:ElementKey = $id } }
}

function Invoke-PmpClick {
    <# A real click (pointer events through the browser), not a script's element.click(). #>
    param([Parameter(Mandatory, Position = 0)] $Session, [Parameter(Mandatory, Position = 1)] [string] $Css)
    $e = Find-PmpElement $Session $Css
    $null = Invoke-PmpWebDriver $Session POST "/element/$($e.Id)/click"
}

function Set-PmpInput {
    <# Clears a field and types into it, as a user would. #>
    param([Parameter(Mandatory, Position = 0)] $Session, [Parameter(Mandatory, Position = 1)] [string] $Css, [Parameter(Position = 2)] [string] $Text = '')
    $e = Find-PmpElement $Session $Css
    $null = Invoke-PmpWebDriver $Session POST "/element/$($e.Id)/clear"
    if ($Text) { $null = Invoke-PmpWebDriver $Session POST "/element/$($e.Id)/value" @{ text = $Text } }
}

function Save-PmpScreenshot {
    param([Parameter(Mandatory, Position = 0)] $Session, [Parameter(Mandatory, Position = 1)] [string] $Path)
    $png = Invoke-PmpWebDriver $Session GET '/screenshot'
    New-Item -ItemType Directory -Force -Path (Split-Path $Path) | Out-Null
    [System.IO.File]::WriteAllBytes($Path, [Convert]::FromBase64String($png))
}

function Wait-PmpCondition {
    <# Polls a script block until it returns a true value (returned) or -TimeoutSeconds pass (throws with -Because). #>
    param([Parameter(Mandatory, Position = 0)] [scriptblock] $Condition, [int] $TimeoutSeconds = 15, [string] $Because = 'the condition')
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ($true) {
        $value = & $Condition
        if ($value) { return $value }
        if ([DateTime]::UtcNow -gt $deadline) { throw "timed out after $TimeoutSeconds s waiting for $Because" }
        Start-Sleep -Milliseconds 200
    }
}

function New-PmpSamplePng {
    <# Writes a small PNG (a bar chart on white) made here: an inline image for test and sample mails. #>
    param([Parameter(Mandatory)] [string] $Path, [int] $Width = 120, [int] $Height = 48)
    $bars = @(0.45, 0.7, 0.55, 0.9, 0.8)
    $raw = [System.IO.MemoryStream]::new()
    for ($y = 0; $y -lt $Height; $y++) {
        $raw.WriteByte(0)   # filter: none
        for ($x = 0; $x -lt $Width; $x++) {
            $bar = [math]::Floor($x * $bars.Count / $Width)
            $inBar = ($x % ($Width / $bars.Count)) -gt 3 -and ($Height - $y) -le $bars[$bar] * $Height
            $rgb = if ($inBar) { 0x25, 0x63, 0xeb } else { 0xff, 0xff, 0xff }
            foreach ($b in $rgb) { $raw.WriteByte($b) }
        }
    }
    $z = [System.IO.MemoryStream]::new()
    $zs = [System.IO.Compression.ZLibStream]::new($z, [System.IO.Compression.CompressionLevel]::SmallestSize, $true)
    $zs.Write($raw.ToArray(), 0, $raw.Length); $zs.Dispose()
    $crcTable = [uint32[]]::new(256)
    for ($n = 0; $n -lt 256; $n++) {
        $c = [uint32]$n
        for ($k = 0; $k -lt 8; $k++) { $c = if ($c -band 1) { [uint32](0xEDB88320u -bxor ($c -shr 1)) } else { [uint32]($c -shr 1) } }
        $crcTable[$n] = $c
    }
    $out = [System.IO.MemoryStream]::new()
    $be = { param([uint32] $v) [byte[]]@((($v -shr 24) -band 0xff), (($v -shr 16) -band 0xff), (($v -shr 8) -band 0xff), ($v -band 0xff)) }
    $chunk = {
        param([string] $type, [byte[]] $data)
        $typed = [System.Text.Encoding]::ASCII.GetBytes($type) + $data
        $crc = [uint32]::MaxValue
        foreach ($b in $typed) { $crc = [uint32]($crcTable[($crc -bxor $b) -band 0xff] -bxor ($crc -shr 8)) }
        $bytes = (& $be $data.Length) + $typed + (& $be ($crc -bxor [uint32]::MaxValue))
        $out.Write($bytes, 0, $bytes.Length)
    }
    $out.Write([byte[]](0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A), 0, 8)
    & $chunk 'IHDR' ((& $be $Width) + (& $be $Height) + [byte[]](8, 2, 0, 0, 0))
    & $chunk 'IDAT' $z.ToArray()
    & $chunk 'IEND' ([byte[]]@())
    [System.IO.File]::WriteAllBytes($Path, $out.ToArray())
}

Export-ModuleMember -Function Find-PmpBrowser, Install-PmpBrowser, Get-PmpServerKeyHash, Invoke-PmpWebDriver, Start-PmpBrowser,
    Stop-PmpBrowser, Open-PmpPage, Invoke-PmpScript, Find-PmpElement, Invoke-PmpClick, Set-PmpInput, Save-PmpScreenshot,
    Wait-PmpCondition, New-PmpSamplePng
