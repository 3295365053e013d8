<#
.SYNOPSIS
    The inbox-browser suite: the emulator's inbox page (/_emulator/) in a real headless Chromium,
    driven over WebDriver, with mail sent by the built PowerShell module (dist/PmpMail).
.DESCRIPTION
    Sends an HTML mail with an inline cid: image, an attachment and a <script> through
    Send-PmpMail, then checks in the browser: the list updates without a reload, the body renders
    in the sandboxed frame (heading visible, cid: image loaded), its script does not run, markup in
    a subject stays text, the attachment downloads byte-exact and the .eml downloads, the
    Headers/Text/Raw panes, the activity view, search, delete. Screenshots of the list, one
    message and the activity view go to -OutputDirectory (not committed).
    Needs the debug build (build.ps1 build) and a browser with its driver (Install-PmpBrowser).
#>
[CmdletBinding()]
param(
    [string] $OutputDirectory
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
$root = Split-Path $PSScriptRoot -Parent
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1') -Force
Import-Module (Join-Path $PSScriptRoot 'PmpBrowser.psm1') -Force
if (-not $OutputDirectory) { $OutputDirectory = Join-Path (Get-PmpTargetDirectory) 'test-output' 'inbox-browser' }
if (Test-Path $OutputDirectory) { Remove-Item -Recurse -Force $OutputDirectory }
$downloads = Join-Path $OutputDirectory 'downloads'
$files = Join-Path $OutputDirectory 'files'
New-Item -ItemType Directory -Force -Path $downloads, $files | Out-Null

$found = Install-PmpBrowser
if (-not $found) { throw 'No Chromium/Chrome/Edge with its WebDriver on PATH (on Debian/Ubuntu as root, build.ps1 installs chromium and chromium-driver)' }
Import-Module (Join-Path $root 'dist' 'PmpMail' 'PmpMail.psd1') -Force

$emulator = Start-PmpEmulator -Demo -StateDir (Join-Path $OutputDirectory 'state') -StandardErrorPath (Join-Path $OutputDirectory 'emulator.err')
$browser = $null
$run = New-PmpCheckRun
$inbox = "$($emulator.BaseUrl)/_emulator/"
$rows = 'return [...document.querySelectorAll("#list tbody tr")].map(r => r.querySelector(".subject").textContent)'

# The subjects in the list, as one array (the comma keeps an empty or one-row list an array).
function Get-Rows { , @(Invoke-PmpScript $browser $rows) }
function Test-Equal($Actual, $Expected, [string] $What) {
    if ($Actual -cne $Expected) { throw "$What`: expected '$Expected', got '$Actual'" }
}

try {
    $browser = Start-PmpBrowser -Found $found -DownloadDir $downloads -TrustedKeyHash (Get-PmpServerKeyHash $emulator)
    $connection = @{
        TenantId      = 'contoso.onmicrosoft.com'
        ClientId      = '22222222-2222-2222-2222-222222222222'
        ClientSecret  = ConvertTo-SecureString 'demo-secret-value' -AsPlainText -Force
        AuthorityHost = $emulator.AuthorityHost
        GraphRoot     = $emulator.GraphRoot
        TrustedCaPath = $emulator.CaPath
    }
    $logo = Join-Path $files 'logo.png'
    New-PmpSamplePng -Path $logo
    $attachment = Join-Path $files 'patch-report.bin'
    [System.IO.File]::WriteAllBytes($attachment, [System.Security.Cryptography.RandomNumberGenerator]::GetBytes(300KB))
    $attachmentHash = (Get-FileHash -Algorithm SHA256 -LiteralPath $attachment).Hash.ToLowerInvariant()
    $subject = 'Patch report <img src=x onerror="window.pmpXss=1"> ✓'
    $sent = $null

    Invoke-PmpCheck $run 'the page opens with an empty list' {
        Open-PmpPage $browser $inbox
        $null = Wait-PmpCondition { Invoke-PmpScript $browser 'return document.getElementById("count").textContent !== ""' } -Because 'the first list'
        Test-Equal (Get-Rows).Count 0 'rows'
        Test-Equal (Invoke-PmpScript $browser 'return document.getElementById("empty").hidden') $false 'the empty-list note hidden'
        # Survives only as long as the page is not reloaded.
        $null = Invoke-PmpScript $browser 'window.pmpNoReload = "still here"'
    }

    Invoke-PmpCheck $run 'Send-PmpMail: HTML with a cid: image, an attachment and a <script>; a text mail' {
        $body = '<h1 id="heading">Patch report</h1><p>Two updates published.</p><p><img id="logo" src="cid:logo" alt="chart"></p>' +
        '<script>document.body.setAttribute("data-ran", "script"); parent.document.title = "script ran";</script>' +
        '<img src="missing" onerror="document.body.setAttribute(''data-ran'', ''onerror'')">'
        $script:sent = Send-PmpMail @connection -From 'alerts@contoso.onmicrosoft.com' -To 'Ops Team <ops@contoso.onmicrosoft.com>' `
            -Cc 'zoe@contoso.onmicrosoft.com' -ReplyTo 'noreply@contoso.onmicrosoft.com' -Priority High -Subject $subject `
            -Body $body -BodyAsHtml -InlineAttachment @{ logo = $logo } -Attachments $attachment -Header @{ 'X-Report-Run' = '42' } -PassThru
        Test-Equal $sent.Status 'sent' 'HTML mail'
        $text = Send-PmpMail @connection -From 'alerts@contoso.onmicrosoft.com' -To 'buyer@fabrikam.com' -Subject 'Inventory export' `
            -Body 'Attached soon.' -PassThru
        Test-Equal $text.Status 'sent' 'text mail'
    }

    Invoke-PmpCheck $run 'the list shows both, newest first, without a reload' {
        $null = Wait-PmpCondition { (Get-Rows).Count -eq 2 } -Because 'two rows'
        Test-Equal (Get-Rows)[0] 'Inventory export' 'first row'
        Test-Equal (Invoke-PmpScript $browser 'return window.pmpNoReload') 'still here' 'the page state (a reload loses it)'
        Save-PmpScreenshot $browser (Join-Path $OutputDirectory 'inbox-list.png')
    }

    Invoke-PmpCheck $run 'markup in a subject stays text outside the frame' {
        Test-Equal ((Get-Rows)[1] -replace '^!', '') $subject 'the subject cell'
        Test-Equal (Invoke-PmpScript $browser 'return document.querySelectorAll("#list tbody img:not(.clip)").length') 0 'images made from the subject'
        Test-Equal (Invoke-PmpScript $browser 'return String(window.pmpXss)') 'undefined' 'window.pmpXss'
    }

    Invoke-PmpCheck $run 'the HTML body renders in the sandboxed frame (heading visible, cid: image loaded)' {
        Invoke-PmpClick $browser '#list tbody tr:nth-child(2)'
        $null = Wait-PmpCondition { Invoke-PmpScript $browser 'return document.getElementById("v-subject").textContent' } -Because 'the message view'
        Test-Equal (Invoke-PmpScript $browser 'return document.getElementById("v-subject").textContent') $subject 'the view title'
        Test-Equal (Invoke-PmpScript $browser 'return document.getElementById("v-html").getAttribute("sandbox")') '' 'the frame sandbox (no allow-* tokens)'
        $frame = Find-PmpElement $browser '#v-html'
        $null = Wait-PmpCondition { Invoke-PmpScript $browser 'const f = document.getElementById("v-html"); return f.src !== ""' } -Because 'the frame source'
        $null = Invoke-PmpWebDriver $browser POST '/frame' @{ id = $frame.Reference }
        try {
            $heading = Wait-PmpCondition { try { Find-PmpElement $browser '#heading' } catch { $null } } -Because 'the heading in the frame'
            # WebDriver's element text is the rendered, visible text.
            Test-Equal (Invoke-PmpWebDriver $browser GET "/element/$($heading.Id)/text") 'Patch report' 'the visible heading'
            $width = Wait-PmpCondition { Invoke-PmpScript $browser 'const i = document.getElementById("logo"); return i.complete && i.naturalWidth' } -Because 'the cid: image'
            if ($width -le 0) { throw "the cid: image did not load (naturalWidth $width)" }
            "cid: image naturalWidth $width"
        }
        finally { $null = Invoke-PmpWebDriver $browser POST '/frame/parent' @{} }
    }

    Invoke-PmpCheck $run 'scripts in the body do not run (<script>, onerror)' {
        $frame = Find-PmpElement $browser '#v-html'
        $null = Invoke-PmpWebDriver $browser POST '/frame' @{ id = $frame.Reference }
        try {
            # The body is there (its heading and both script carriers), and what they would set is not.
            Test-Equal (Invoke-PmpScript $browser 'return document.querySelectorAll("#heading, script, img[onerror]").length') 3 'the heading and the script carriers in the frame'
            Test-Equal (Invoke-PmpScript $browser 'return String(document.body.getAttribute("data-ran"))') 'null' 'what the scripts would set'
        }
        finally { $null = Invoke-PmpWebDriver $browser POST '/frame/parent' @{} }
        Test-Equal (Invoke-PmpScript $browser 'return document.title') 'pmp-graph-emulator inbox' 'the page title'
    }

    Invoke-PmpCheck $run 'headers, text and raw panes' {
        Invoke-PmpClick $browser '.panes button[data-pane="headers"]'
        $headers = Invoke-PmpScript $browser 'return document.getElementById("pane-headers").innerText'
        foreach ($expected in "client-request-id`t$($sent.ClientRequestId)", "request-id`t$($sent.RequestId)", "X-Report-Run`t42", "via`tsendMail") {
            if (-not $headers.Contains($expected)) { throw "the headers pane lacks '$expected':`n$headers" }
        }
        $meta = Invoke-PmpScript $browser 'return document.getElementById("v-meta").innerText'
        foreach ($expected in 'Ops Team <ops@contoso.onmicrosoft.com>', 'zoe@contoso.onmicrosoft.com', 'noreply@contoso.onmicrosoft.com', 'high') {
            if (-not $meta.Contains($expected)) { throw "the message details lack '$expected':`n$meta" }
        }
        Invoke-PmpClick $browser '.panes button[data-pane="text"]'
        $text = Invoke-PmpScript $browser 'return document.getElementById("pane-text").innerText'
        if (-not $text.StartsWith('Patch report')) { throw "text pane: $text" }
        Invoke-PmpClick $browser '.panes button[data-pane="raw"]'
        $raw = Wait-PmpCondition { Invoke-PmpScript $browser 'return document.getElementById("pane-raw").textContent' } -Because 'the raw source'
        if (-not $raw.Contains('X-Report-Run: 42') -or -not $raw.Contains('Content-Type: multipart/')) { throw "the raw source: $($raw.Substring(0, [math]::Min(400, $raw.Length)))" }
        Invoke-PmpClick $browser '.panes button[data-pane="html"]'
        Save-PmpScreenshot $browser (Join-Path $OutputDirectory 'inbox-message.png')
    }

    Invoke-PmpCheck $run 'the attachment downloads byte-exact (SHA-256), as the page shows it' {
        $shown = Invoke-PmpScript $browser 'return [...document.querySelectorAll("#v-attachments li")].find(li => li.textContent.includes("patch-report.bin")).querySelector("code").textContent'
        Test-Equal $shown "sha256 $attachmentHash" 'the SHA-256 shown'
        Invoke-PmpClick $browser '#v-attachments a[download="patch-report.bin"]'
        $file = Join-Path $downloads 'patch-report.bin'
        $null = Wait-PmpCondition { (Test-Path -LiteralPath $file) -and (Get-Item -LiteralPath $file).Length -eq 300KB } -Because 'the download'
        Test-Equal (Get-FileHash -Algorithm SHA256 -LiteralPath $file).Hash.ToLowerInvariant() $attachmentHash 'SHA-256 of the download'
    }

    Invoke-PmpCheck $run 'the .eml downloads' {
        $id = Invoke-PmpScript $browser 'return document.querySelector("#list tbody tr.selected").dataset.id'
        Invoke-PmpClick $browser '#v-eml'
        $file = Join-Path $downloads "$id.eml"
        $null = Wait-PmpCondition { (Test-Path -LiteralPath $file) -and -not (Test-Path -LiteralPath "$file.crdownload") } -Because "$id.eml"
        $eml = Get-Content -LiteralPath $file -Raw
        foreach ($expected in 'Content-ID: <logo>', 'patch-report.bin', 'X-Report-Run: 42', 'To: "Ops Team" <ops@contoso.onmicrosoft.com>') {
            if (-not $eml.Contains($expected)) { throw "the .eml lacks '$expected'" }
        }
    }

    Invoke-PmpCheck $run 'activity: requests (fault, throttled columns) and tokens (claims only), filterable' {
        Invoke-PmpClick $browser '#tab-activity'
        try {
        $null = Wait-PmpCondition { Invoke-PmpScript $browser 'return document.querySelectorAll("#requests tbody tr").length > 0' } -Because 'the request log'
        $sendRows = @(Invoke-PmpScript $browser 'return [...document.querySelectorAll("#requests tbody tr")].map(r => [...r.cells].map(c => c.textContent).join("|")).filter(t => t.includes("/sendMail"))')
        if (-not ($sendRows | Where-Object { $_.Contains('|202|') -and $_.Contains($sent.ClientRequestId) })) { throw "no sendMail row with 202 and the HTML mail's client-request-id $($sent.ClientRequestId):`n$($sendRows -join "`n")" }
        $claims = Invoke-PmpScript $browser 'return document.querySelector("#tokens tbody pre").textContent'
        if (-not $claims.Contains('22222222-2222-2222-2222-222222222222')) { throw "token claims: $claims" }
        Save-PmpScreenshot $browser (Join-Path $OutputDirectory 'inbox-activity.png')
        Set-PmpInput $browser '#activity-filter' 'oauth2'
        $null = Wait-PmpCondition { Invoke-PmpScript $browser 'const p = [...document.querySelectorAll("#requests tbody tr")].map(r => r.cells[2].textContent); return p.length > 0 && p.every(x => x.includes("oauth2"))' } -Because 'the filter'
        Set-PmpInput $browser '#activity-filter' ''
        }
        finally { Invoke-PmpClick $browser '#tab-messages' }
    }

    Invoke-PmpCheck $run 'search filters by address and subject' {
        foreach ($case in @(@('fabrikam', 1), @('OPS TEAM', 1), @('onerror', 1), @('alerts@contoso', 2), @('nobody-here', 0))) {
            Set-PmpInput $browser '#search' $case[0]
            $null = Wait-PmpCondition { (Get-Rows).Count -eq $case[1] } -Because "$($case[1]) rows for '$($case[0])'"
        }
        Test-Equal (Invoke-PmpScript $browser 'return document.getElementById("empty").hidden') $false 'the empty-list note'
        Set-PmpInput $browser '#search' 'fabrikam'
        $null = Wait-PmpCondition { (Get-Rows).Count -eq 1 } -Because 'one row'
        Test-Equal (Get-Rows)[0] 'Inventory export' 'the match'
        Set-PmpInput $browser '#search' ''
        $null = Wait-PmpCondition { (Get-Rows).Count -eq 2 } -Because 'both rows again'
    }

    Invoke-PmpCheck $run 'delete one, then delete all empties the list' {
        Invoke-PmpClick $browser '#list tbody tr:nth-child(1)'
        $null = Wait-PmpCondition { (Invoke-PmpScript $browser 'return document.getElementById("v-subject").textContent') -eq 'Inventory export' } -Because 'the text mail view'
        Invoke-PmpClick $browser '#v-delete'
        $null = Wait-PmpCondition { (Get-Rows).Count -eq 1 } -Because 'one row left'
        Test-Equal @(Invoke-PmpEmulatorControl $emulator 'messages').Count 1 'messages left in the emulator'
        Invoke-PmpClick $browser '#delete-all'
        $null = Wait-PmpCondition { (Get-Rows).Count -eq 0 } -Because 'an empty list'
        Test-Equal (Invoke-PmpScript $browser 'return document.getElementById("empty").hidden') $false 'the empty-list note'
        Test-Equal @(Invoke-PmpEmulatorControl $emulator 'messages').Count 0 'messages left in the emulator'
    }
}
catch {
    $run.Failures.Add("setup: $_")
    Write-Host "setup failed: $_" -ForegroundColor Red
}
finally {
    Show-PmpEmulatorLog $run $emulator
    Stop-PmpBrowser $browser
    Stop-PmpEmulator $emulator
}
Write-Host "Screenshots: $(@(Get-ChildItem $OutputDirectory -Filter '*.png' | ForEach-Object FullName) -join ', ')"
Complete-PmpCheckRun $run 'inbox-browser'
